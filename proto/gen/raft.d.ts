import * as $protobuf from "protobufjs";
import Long = require("long");

export namespace shardkv {

    namespace raft {

        enum EntryType {
            ENTRY_NORMAL = 0,
            ENTRY_NOOP = 1,
            ENTRY_CONF_CHANGE = 2
        }

        interface IEntry extends shardkv.raft.Entry.$Properties {
        }

        class Entry {
            constructor(p?: shardkv.raft.Entry.$Properties);
            $unknowns?: Uint8Array[];
            index: number;
            term: number;
            type: shardkv.raft.EntryType;
            data: Uint8Array;
            static create(properties: shardkv.raft.Entry.$Shape): shardkv.raft.Entry & shardkv.raft.Entry.$Shape;
            static create(properties?: shardkv.raft.Entry.$Properties): shardkv.raft.Entry;
            static encode(m: shardkv.raft.Entry.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.Entry & shardkv.raft.Entry.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Entry {
            interface $Properties {
                index?: (number|null);
                term?: (number|null);
                type?: (shardkv.raft.EntryType|null);
                data?: (Uint8Array|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.Entry.$Properties;
        }

        interface IHardState extends shardkv.raft.HardState.$Properties {
        }

        class HardState {
            constructor(p?: shardkv.raft.HardState.$Properties);
            $unknowns?: Uint8Array[];
            term: number;
            vote: number;
            commit: number;
            static create(properties: shardkv.raft.HardState.$Shape): shardkv.raft.HardState & shardkv.raft.HardState.$Shape;
            static create(properties?: shardkv.raft.HardState.$Properties): shardkv.raft.HardState;
            static encode(m: shardkv.raft.HardState.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.HardState & shardkv.raft.HardState.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace HardState {
            interface $Properties {
                term?: (number|null);
                vote?: (number|null);
                commit?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.HardState.$Properties;
        }

        interface ISnapshotMeta extends shardkv.raft.SnapshotMeta.$Properties {
        }

        class SnapshotMeta {
            constructor(p?: shardkv.raft.SnapshotMeta.$Properties);
            $unknowns?: Uint8Array[];
            index: number;
            term: number;
            voters: number[];
            learners: number[];
            votersOutgoing: number[];
            autoLeave: boolean;
            addresses: shardkv.raft.MemberAddress.$Properties[];
            static create(properties: shardkv.raft.SnapshotMeta.$Shape): shardkv.raft.SnapshotMeta & shardkv.raft.SnapshotMeta.$Shape;
            static create(properties?: shardkv.raft.SnapshotMeta.$Properties): shardkv.raft.SnapshotMeta;
            static encode(m: shardkv.raft.SnapshotMeta.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.SnapshotMeta & shardkv.raft.SnapshotMeta.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace SnapshotMeta {
            interface $Properties {
                index?: (number|null);
                term?: (number|null);
                voters?: (number[]|null);
                learners?: (number[]|null);
                votersOutgoing?: (number[]|null);
                autoLeave?: (boolean|null);
                addresses?: (shardkv.raft.MemberAddress.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.SnapshotMeta.$Properties;
        }

        interface IMemberAddress extends shardkv.raft.MemberAddress.$Properties {
        }

        class MemberAddress {
            constructor(p?: shardkv.raft.MemberAddress.$Properties);
            $unknowns?: Uint8Array[];
            id: number;
            address: string;
            static create(properties: shardkv.raft.MemberAddress.$Shape): shardkv.raft.MemberAddress & shardkv.raft.MemberAddress.$Shape;
            static create(properties?: shardkv.raft.MemberAddress.$Properties): shardkv.raft.MemberAddress;
            static encode(m: shardkv.raft.MemberAddress.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.MemberAddress & shardkv.raft.MemberAddress.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace MemberAddress {
            interface $Properties {
                id?: (number|null);
                address?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.MemberAddress.$Properties;
        }

        interface IVoterSet extends shardkv.raft.VoterSet.$Properties {
        }

        class VoterSet {
            constructor(p?: shardkv.raft.VoterSet.$Properties);
            $unknowns?: Uint8Array[];
            voters: number[];
            addresses: shardkv.raft.MemberAddress.$Properties[];
            joined: boolean;
            static create(properties: shardkv.raft.VoterSet.$Shape): shardkv.raft.VoterSet & shardkv.raft.VoterSet.$Shape;
            static create(properties?: shardkv.raft.VoterSet.$Properties): shardkv.raft.VoterSet;
            static encode(m: shardkv.raft.VoterSet.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.VoterSet & shardkv.raft.VoterSet.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace VoterSet {
            interface $Properties {
                voters?: (number[]|null);
                addresses?: (shardkv.raft.MemberAddress.$Properties[]|null);
                joined?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.VoterSet.$Properties;
        }

        enum MessageType {
            MSG_UNKNOWN = 0,
            MSG_APPEND = 1,
            MSG_APPEND_RESP = 2,
            MSG_VOTE = 3,
            MSG_VOTE_RESP = 4,
            MSG_PRE_VOTE = 5,
            MSG_PRE_VOTE_RESP = 6,
            MSG_HEARTBEAT = 7,
            MSG_HEARTBEAT_RESP = 8,
            MSG_SNAPSHOT = 9,
            MSG_SNAPSHOT_RESP = 10,
            MSG_TIMEOUT_NOW = 11,
            MSG_WAKE = 12
        }

        interface IMessage extends shardkv.raft.Message.$Properties {
        }

        class Message {
            constructor(p?: shardkv.raft.Message.$Properties);
            $unknowns?: Uint8Array[];
            type: shardkv.raft.MessageType;
            from: number;
            to: number;
            term: number;
            logTerm: number;
            index: number;
            entries: shardkv.raft.Entry.$Properties[];
            commit: number;
            reject: boolean;
            rejectHint: number;
            rejectTerm: number;
            context: Uint8Array;
            snapshot?: (shardkv.raft.SnapshotMeta.$Properties|null);
            chunk: number;
            chunkLast: boolean;
            chunkData: Uint8Array;
            static create(properties: shardkv.raft.Message.$Shape): shardkv.raft.Message & shardkv.raft.Message.$Shape;
            static create(properties?: shardkv.raft.Message.$Properties): shardkv.raft.Message;
            static encode(m: shardkv.raft.Message.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.Message & shardkv.raft.Message.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Message {
            interface $Properties {
                type?: (shardkv.raft.MessageType|null);
                from?: (number|null);
                to?: (number|null);
                term?: (number|null);
                logTerm?: (number|null);
                index?: (number|null);
                entries?: (shardkv.raft.Entry.$Properties[]|null);
                commit?: (number|null);
                reject?: (boolean|null);
                rejectHint?: (number|null);
                rejectTerm?: (number|null);
                context?: (Uint8Array|null);
                snapshot?: (shardkv.raft.SnapshotMeta.$Properties|null);
                chunk?: (number|null);
                chunkLast?: (boolean|null);
                chunkData?: (Uint8Array|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.Message.$Properties;
        }

        interface IMessageBatch extends shardkv.raft.MessageBatch.$Properties {
        }

        class MessageBatch {
            constructor(p?: shardkv.raft.MessageBatch.$Properties);
            $unknowns?: Uint8Array[];
            group: number;
            from: number;
            to: number;
            messages: shardkv.raft.Message.$Properties[];
            static create(properties: shardkv.raft.MessageBatch.$Shape): shardkv.raft.MessageBatch & shardkv.raft.MessageBatch.$Shape;
            static create(properties?: shardkv.raft.MessageBatch.$Properties): shardkv.raft.MessageBatch;
            static encode(m: shardkv.raft.MessageBatch.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.MessageBatch & shardkv.raft.MessageBatch.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace MessageBatch {
            interface $Properties {
                group?: (number|null);
                from?: (number|null);
                to?: (number|null);
                messages?: (shardkv.raft.Message.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.MessageBatch.$Properties;
        }

        interface ISendAck extends shardkv.raft.SendAck.$Properties {
        }

        class SendAck {
            constructor(p?: shardkv.raft.SendAck.$Properties);
            $unknowns?: Uint8Array[];
            static create(properties: shardkv.raft.SendAck.$Shape): shardkv.raft.SendAck & shardkv.raft.SendAck.$Shape;
            static create(properties?: shardkv.raft.SendAck.$Properties): shardkv.raft.SendAck;
            static encode(m: shardkv.raft.SendAck.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.SendAck & shardkv.raft.SendAck.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace SendAck {
            interface $Properties {
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.SendAck.$Properties;
        }

        class RaftTransport extends $protobuf.rpc.Service {
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): RaftTransport;
            send: shardkv.raft.RaftTransport.Send;
        }

        namespace RaftTransport {
            type SendCallback = (error: (Error|null), response?: shardkv.raft.SendAck) => void;
            type Send = {
              (request: shardkv.raft.IMessageBatch, callback: shardkv.raft.RaftTransport.SendCallback): void;
              (request: shardkv.raft.IMessageBatch): Promise<shardkv.raft.SendAck>;
              readonly name: "Send";
              readonly path: "/shardkv.raft.RaftTransport/Send";
              readonly requestType: "MessageBatch";
              readonly responseType: "SendAck";
              readonly requestStream: true;
              readonly responseStream: undefined;
            };
        }

        interface IStoredRecord extends shardkv.raft.StoredRecord.$Properties {
        }

        class StoredRecord {
            constructor(p?: shardkv.raft.StoredRecord.$Properties);
            $unknowns?: Uint8Array[];
            payload: Uint8Array;
            crc32c: number;
            static create(properties: shardkv.raft.StoredRecord.$Shape): shardkv.raft.StoredRecord & shardkv.raft.StoredRecord.$Shape;
            static create(properties?: shardkv.raft.StoredRecord.$Properties): shardkv.raft.StoredRecord;
            static encode(m: shardkv.raft.StoredRecord.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.StoredRecord & shardkv.raft.StoredRecord.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace StoredRecord {
            interface $Properties {
                payload?: (Uint8Array|null);
                crc32c?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.StoredRecord.$Properties;
        }

        interface IRaftMember extends shardkv.raft.RaftMember.$Properties {
        }

        class RaftMember {
            constructor(p?: shardkv.raft.RaftMember.$Properties);
            $unknowns?: Uint8Array[];
            id: number;
            address: string;
            role: string;
            joint: string;
            hasProgress: boolean;
            matchIndex: number;
            lag: number;
            recentlyActive: boolean;
            static create(properties: shardkv.raft.RaftMember.$Shape): shardkv.raft.RaftMember & shardkv.raft.RaftMember.$Shape;
            static create(properties?: shardkv.raft.RaftMember.$Properties): shardkv.raft.RaftMember;
            static encode(m: shardkv.raft.RaftMember.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.RaftMember & shardkv.raft.RaftMember.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace RaftMember {
            interface $Properties {
                id?: (number|null);
                address?: (string|null);
                role?: (string|null);
                joint?: (string|null);
                hasProgress?: (boolean|null);
                matchIndex?: (number|null);
                lag?: (number|null);
                recentlyActive?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.RaftMember.$Properties;
        }

        interface IRaftMembersRequest extends shardkv.raft.RaftMembersRequest.$Properties {
        }

        class RaftMembersRequest {
            constructor(p?: shardkv.raft.RaftMembersRequest.$Properties);
            $unknowns?: Uint8Array[];
            static create(properties: shardkv.raft.RaftMembersRequest.$Shape): shardkv.raft.RaftMembersRequest & shardkv.raft.RaftMembersRequest.$Shape;
            static create(properties?: shardkv.raft.RaftMembersRequest.$Properties): shardkv.raft.RaftMembersRequest;
            static encode(m: shardkv.raft.RaftMembersRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.RaftMembersRequest & shardkv.raft.RaftMembersRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace RaftMembersRequest {
            interface $Properties {
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.RaftMembersRequest.$Properties;
        }

        interface IRaftMembersReply extends shardkv.raft.RaftMembersReply.$Properties {
        }

        class RaftMembersReply {
            constructor(p?: shardkv.raft.RaftMembersReply.$Properties);
            $unknowns?: Uint8Array[];
            id: number;
            role: string;
            term: number;
            leader: number;
            confIndex: number;
            members: shardkv.raft.RaftMember.$Properties[];
            electedBy: string;
            static create(properties: shardkv.raft.RaftMembersReply.$Shape): shardkv.raft.RaftMembersReply & shardkv.raft.RaftMembersReply.$Shape;
            static create(properties?: shardkv.raft.RaftMembersReply.$Properties): shardkv.raft.RaftMembersReply;
            static encode(m: shardkv.raft.RaftMembersReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.RaftMembersReply & shardkv.raft.RaftMembersReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace RaftMembersReply {
            interface $Properties {
                id?: (number|null);
                role?: (string|null);
                term?: (number|null);
                leader?: (number|null);
                confIndex?: (number|null);
                members?: (shardkv.raft.RaftMember.$Properties[]|null);
                electedBy?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.RaftMembersReply.$Properties;
        }

        class RaftMembers extends $protobuf.rpc.Service {
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): RaftMembers;
            members: shardkv.raft.RaftMembers.Members;
        }

        namespace RaftMembers {
            type MembersCallback = (error: (Error|null), response?: shardkv.raft.RaftMembersReply) => void;
            type Members = {
              (request: shardkv.raft.IRaftMembersRequest, callback: shardkv.raft.RaftMembers.MembersCallback): void;
              (request: shardkv.raft.IRaftMembersRequest): Promise<shardkv.raft.RaftMembersReply>;
              readonly name: "Members";
              readonly path: "/shardkv.raft.RaftMembers/Members";
              readonly requestType: "RaftMembersRequest";
              readonly responseType: "RaftMembersReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
        }

        interface ITransferLeaderRequest extends shardkv.raft.TransferLeaderRequest.$Properties {
        }

        class TransferLeaderRequest {
            constructor(p?: shardkv.raft.TransferLeaderRequest.$Properties);
            $unknowns?: Uint8Array[];
            timeoutMs: number;
            static create(properties: shardkv.raft.TransferLeaderRequest.$Shape): shardkv.raft.TransferLeaderRequest & shardkv.raft.TransferLeaderRequest.$Shape;
            static create(properties?: shardkv.raft.TransferLeaderRequest.$Properties): shardkv.raft.TransferLeaderRequest;
            static encode(m: shardkv.raft.TransferLeaderRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.TransferLeaderRequest & shardkv.raft.TransferLeaderRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace TransferLeaderRequest {
            interface $Properties {
                timeoutMs?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.TransferLeaderRequest.$Properties;
        }

        interface ITransferLeaderReply extends shardkv.raft.TransferLeaderReply.$Properties {
        }

        class TransferLeaderReply {
            constructor(p?: shardkv.raft.TransferLeaderReply.$Properties);
            $unknowns?: Uint8Array[];
            outcome: string;
            id: number;
            leader: number;
            term: number;
            reason: string;
            static create(properties: shardkv.raft.TransferLeaderReply.$Shape): shardkv.raft.TransferLeaderReply & shardkv.raft.TransferLeaderReply.$Shape;
            static create(properties?: shardkv.raft.TransferLeaderReply.$Properties): shardkv.raft.TransferLeaderReply;
            static encode(m: shardkv.raft.TransferLeaderReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.raft.TransferLeaderReply & shardkv.raft.TransferLeaderReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace TransferLeaderReply {
            interface $Properties {
                outcome?: (string|null);
                id?: (number|null);
                leader?: (number|null);
                term?: (number|null);
                reason?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.raft.TransferLeaderReply.$Properties;
        }

        class RaftLeadership extends $protobuf.rpc.Service {
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): RaftLeadership;
            transferLeader: shardkv.raft.RaftLeadership.TransferLeader;
        }

        namespace RaftLeadership {
            type TransferLeaderCallback = (error: (Error|null), response?: shardkv.raft.TransferLeaderReply) => void;
            type TransferLeader = {
              (request: shardkv.raft.ITransferLeaderRequest, callback: shardkv.raft.RaftLeadership.TransferLeaderCallback): void;
              (request: shardkv.raft.ITransferLeaderRequest): Promise<shardkv.raft.TransferLeaderReply>;
              readonly name: "TransferLeader";
              readonly path: "/shardkv.raft.RaftLeadership/TransferLeader";
              readonly requestType: "TransferLeaderRequest";
              readonly responseType: "TransferLeaderReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
        }
    }
}
