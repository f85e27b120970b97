import * as $protobuf from "protobufjs";
import Long = require("long");

export namespace shardkv {

    namespace admin {

        interface IFailpoints extends shardkv.admin.Failpoints.$Properties {
        }

        class Failpoints {
            constructor(p?: shardkv.admin.Failpoints.$Properties);
            $unknowns?: Uint8Array[];
            dropRequestRate: number;
            dropReplyRate: number;
            delayMsMax: number;
            cutPeers: string[];
            dropRaftRate: number;
            static create(properties: shardkv.admin.Failpoints.$Shape): shardkv.admin.Failpoints & shardkv.admin.Failpoints.$Shape;
            static create(properties?: shardkv.admin.Failpoints.$Properties): shardkv.admin.Failpoints;
            static encode(m: shardkv.admin.Failpoints.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.admin.Failpoints & shardkv.admin.Failpoints.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Failpoints {
            interface $Properties {
                dropRequestRate?: (number|null);
                dropReplyRate?: (number|null);
                delayMsMax?: (number|null);
                cutPeers?: (string[]|null);
                dropRaftRate?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.admin.Failpoints.$Properties;
        }

        interface ISetFailpointsRequest extends shardkv.admin.SetFailpointsRequest.$Properties {
        }

        class SetFailpointsRequest {
            constructor(p?: shardkv.admin.SetFailpointsRequest.$Properties);
            $unknowns?: Uint8Array[];
            failpoints?: (shardkv.admin.Failpoints.$Properties|null);
            static create(properties: shardkv.admin.SetFailpointsRequest.$Shape): shardkv.admin.SetFailpointsRequest & shardkv.admin.SetFailpointsRequest.$Shape;
            static create(properties?: shardkv.admin.SetFailpointsRequest.$Properties): shardkv.admin.SetFailpointsRequest;
            static encode(m: shardkv.admin.SetFailpointsRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.admin.SetFailpointsRequest & shardkv.admin.SetFailpointsRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace SetFailpointsRequest {
            interface $Properties {
                failpoints?: (shardkv.admin.Failpoints.$Properties|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.admin.SetFailpointsRequest.$Properties;
        }

        interface IGetFailpointsRequest extends shardkv.admin.GetFailpointsRequest.$Properties {
        }

        class GetFailpointsRequest {
            constructor(p?: shardkv.admin.GetFailpointsRequest.$Properties);
            $unknowns?: Uint8Array[];
            static create(properties: shardkv.admin.GetFailpointsRequest.$Shape): shardkv.admin.GetFailpointsRequest & shardkv.admin.GetFailpointsRequest.$Shape;
            static create(properties?: shardkv.admin.GetFailpointsRequest.$Properties): shardkv.admin.GetFailpointsRequest;
            static encode(m: shardkv.admin.GetFailpointsRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.admin.GetFailpointsRequest & shardkv.admin.GetFailpointsRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace GetFailpointsRequest {
            interface $Properties {
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.admin.GetFailpointsRequest.$Properties;
        }

        interface IFailpointCounters extends shardkv.admin.FailpointCounters.$Properties {
        }

        class FailpointCounters {
            constructor(p?: shardkv.admin.FailpointCounters.$Properties);
            $unknowns?: Uint8Array[];
            droppedRequests: number;
            droppedReplies: number;
            droppedRaft: number;
            delayed: number;
            cut: number;
            static create(properties: shardkv.admin.FailpointCounters.$Shape): shardkv.admin.FailpointCounters & shardkv.admin.FailpointCounters.$Shape;
            static create(properties?: shardkv.admin.FailpointCounters.$Properties): shardkv.admin.FailpointCounters;
            static encode(m: shardkv.admin.FailpointCounters.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.admin.FailpointCounters & shardkv.admin.FailpointCounters.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace FailpointCounters {
            interface $Properties {
                droppedRequests?: (number|null);
                droppedReplies?: (number|null);
                droppedRaft?: (number|null);
                delayed?: (number|null);
                cut?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.admin.FailpointCounters.$Properties;
        }

        interface IFailpointsReply extends shardkv.admin.FailpointsReply.$Properties {
        }

        class FailpointsReply {
            constructor(p?: shardkv.admin.FailpointsReply.$Properties);
            $unknowns?: Uint8Array[];
            failpoints?: (shardkv.admin.Failpoints.$Properties|null);
            spec: string;
            self: string;
            counters?: (shardkv.admin.FailpointCounters.$Properties|null);
            static create(properties: shardkv.admin.FailpointsReply.$Shape): shardkv.admin.FailpointsReply & shardkv.admin.FailpointsReply.$Shape;
            static create(properties?: shardkv.admin.FailpointsReply.$Properties): shardkv.admin.FailpointsReply;
            static encode(m: shardkv.admin.FailpointsReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.admin.FailpointsReply & shardkv.admin.FailpointsReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace FailpointsReply {
            interface $Properties {
                failpoints?: (shardkv.admin.Failpoints.$Properties|null);
                spec?: (string|null);
                self?: (string|null);
                counters?: (shardkv.admin.FailpointCounters.$Properties|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.admin.FailpointsReply.$Properties;
        }

        class Admin extends $protobuf.rpc.Service {
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): Admin;
            setFailpoints: shardkv.admin.Admin.SetFailpoints;
            getFailpoints: shardkv.admin.Admin.GetFailpoints;
        }

        namespace Admin {
            type SetFailpointsCallback = (error: (Error|null), response?: shardkv.admin.FailpointsReply) => void;
            type SetFailpoints = {
              (request: shardkv.admin.ISetFailpointsRequest, callback: shardkv.admin.Admin.SetFailpointsCallback): void;
              (request: shardkv.admin.ISetFailpointsRequest): Promise<shardkv.admin.FailpointsReply>;
              readonly name: "SetFailpoints";
              readonly path: "/shardkv.admin.Admin/SetFailpoints";
              readonly requestType: "SetFailpointsRequest";
              readonly responseType: "FailpointsReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type GetFailpointsCallback = (error: (Error|null), response?: shardkv.admin.FailpointsReply) => void;
            type GetFailpoints = {
              (request: shardkv.admin.IGetFailpointsRequest, callback: shardkv.admin.Admin.GetFailpointsCallback): void;
              (request: shardkv.admin.IGetFailpointsRequest): Promise<shardkv.admin.FailpointsReply>;
              readonly name: "GetFailpoints";
              readonly path: "/shardkv.admin.Admin/GetFailpoints";
              readonly requestType: "GetFailpointsRequest";
              readonly responseType: "FailpointsReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
        }

        interface IChangeReplicasRequest extends shardkv.admin.ChangeReplicasRequest.$Properties {
        }

        class ChangeReplicasRequest {
            constructor(p?: shardkv.admin.ChangeReplicasRequest.$Properties);
            $unknowns?: Uint8Array[];
            kind: string;
            id: number;
            oldId: number;
            newId: number;
            address: string;
            force: boolean;
            timeoutMs: number;
            static create(properties: shardkv.admin.ChangeReplicasRequest.$Shape): shardkv.admin.ChangeReplicasRequest & shardkv.admin.ChangeReplicasRequest.$Shape;
            static create(properties?: shardkv.admin.ChangeReplicasRequest.$Properties): shardkv.admin.ChangeReplicasRequest;
            static encode(m: shardkv.admin.ChangeReplicasRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.admin.ChangeReplicasRequest & shardkv.admin.ChangeReplicasRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ChangeReplicasRequest {
            interface $Properties {
                kind?: (string|null);
                id?: (number|null);
                oldId?: (number|null);
                newId?: (number|null);
                address?: (string|null);
                force?: (boolean|null);
                timeoutMs?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.admin.ChangeReplicasRequest.$Properties;
        }

        interface IChangeReplicasReply extends shardkv.admin.ChangeReplicasReply.$Properties {
        }

        class ChangeReplicasReply {
            constructor(p?: shardkv.admin.ChangeReplicasReply.$Properties);
            $unknowns?: Uint8Array[];
            confIndex: number;
            static create(properties: shardkv.admin.ChangeReplicasReply.$Shape): shardkv.admin.ChangeReplicasReply & shardkv.admin.ChangeReplicasReply.$Shape;
            static create(properties?: shardkv.admin.ChangeReplicasReply.$Properties): shardkv.admin.ChangeReplicasReply;
            static encode(m: shardkv.admin.ChangeReplicasReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.admin.ChangeReplicasReply & shardkv.admin.ChangeReplicasReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ChangeReplicasReply {
            interface $Properties {
                confIndex?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.admin.ChangeReplicasReply.$Properties;
        }

        class ReplicaAdmin extends $protobuf.rpc.Service {
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): ReplicaAdmin;
            changeReplicas: shardkv.admin.ReplicaAdmin.ChangeReplicas;
        }

        namespace ReplicaAdmin {
            type ChangeReplicasCallback = (error: (Error|null), response?: shardkv.admin.ChangeReplicasReply) => void;
            type ChangeReplicas = {
              (request: shardkv.admin.IChangeReplicasRequest, callback: shardkv.admin.ReplicaAdmin.ChangeReplicasCallback): void;
              (request: shardkv.admin.IChangeReplicasRequest): Promise<shardkv.admin.ChangeReplicasReply>;
              readonly name: "ChangeReplicas";
              readonly path: "/shardkv.admin.ReplicaAdmin/ChangeReplicas";
              readonly requestType: "ChangeReplicasRequest";
              readonly responseType: "ChangeReplicasReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
        }

        interface IRaftMembersRequest extends shardkv.admin.RaftMembersRequest.$Properties {
        }

        class RaftMembersRequest {
            constructor(p?: shardkv.admin.RaftMembersRequest.$Properties);
            $unknowns?: Uint8Array[];
            static create(properties: shardkv.admin.RaftMembersRequest.$Shape): shardkv.admin.RaftMembersRequest & shardkv.admin.RaftMembersRequest.$Shape;
            static create(properties?: shardkv.admin.RaftMembersRequest.$Properties): shardkv.admin.RaftMembersRequest;
            static encode(m: shardkv.admin.RaftMembersRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.admin.RaftMembersRequest & shardkv.admin.RaftMembersRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace RaftMembersRequest {
            interface $Properties {
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.admin.RaftMembersRequest.$Properties;
        }

        interface IRaftMembersReply extends shardkv.admin.RaftMembersReply.$Properties {
        }

        class RaftMembersReply {
            constructor(p?: shardkv.admin.RaftMembersReply.$Properties);
            $unknowns?: Uint8Array[];
            id: number;
            role: string;
            term: number;
            leader: number;
            confIndex: number;
            members: shardkv.raft.RaftMember.$Properties[];
            static create(properties: shardkv.admin.RaftMembersReply.$Shape): shardkv.admin.RaftMembersReply & shardkv.admin.RaftMembersReply.$Shape;
            static create(properties?: shardkv.admin.RaftMembersReply.$Properties): shardkv.admin.RaftMembersReply;
            static encode(m: shardkv.admin.RaftMembersReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.admin.RaftMembersReply & shardkv.admin.RaftMembersReply.$Shape;
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
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.admin.RaftMembersReply.$Properties;
        }

        class RaftMembers extends $protobuf.rpc.Service {
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): RaftMembers;
            members: shardkv.admin.RaftMembers.Members;
        }

        namespace RaftMembers {
            type MembersCallback = (error: (Error|null), response?: shardkv.admin.RaftMembersReply) => void;
            type Members = {
              (request: shardkv.admin.IRaftMembersRequest, callback: shardkv.admin.RaftMembers.MembersCallback): void;
              (request: shardkv.admin.IRaftMembersRequest): Promise<shardkv.admin.RaftMembersReply>;
              readonly name: "Members";
              readonly path: "/shardkv.admin.RaftMembers/Members";
              readonly requestType: "RaftMembersRequest";
              readonly responseType: "RaftMembersReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
        }
    }

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
            MSG_TIMEOUT_NOW = 11
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
    }
}
