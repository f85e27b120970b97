import * as $protobuf from "protobufjs";
import Long = require("long");

export namespace shardkv {

    namespace kv {

        enum OpType {
            OP_GET = 0,
            OP_PUT = 1,
            OP_APPEND = 2,
            OP_DELETE = 3,
            OP_CAS = 4
        }

        interface IOp extends shardkv.kv.Op.$Properties {
        }

        class Op {
            constructor(p?: shardkv.kv.Op.$Properties);
            $unknowns?: Uint8Array[];
            type: shardkv.kv.OpType;
            key: Uint8Array;
            value: Uint8Array;
            expected: Uint8Array;
            expectAbsent: boolean;
            static create(properties: shardkv.kv.Op.$Shape): shardkv.kv.Op & shardkv.kv.Op.$Shape;
            static create(properties?: shardkv.kv.Op.$Properties): shardkv.kv.Op;
            static encode(m: shardkv.kv.Op.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.Op & shardkv.kv.Op.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Op {
            interface $Properties {
                type?: (shardkv.kv.OpType|null);
                key?: (Uint8Array|null);
                value?: (Uint8Array|null);
                expected?: (Uint8Array|null);
                expectAbsent?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.Op.$Properties;
        }

        interface IOpResult extends shardkv.kv.OpResult.$Properties {
        }

        class OpResult {
            constructor(p?: shardkv.kv.OpResult.$Properties);
            $unknowns?: Uint8Array[];
            found: boolean;
            value: Uint8Array;
            swapped: boolean;
            static create(properties: shardkv.kv.OpResult.$Shape): shardkv.kv.OpResult & shardkv.kv.OpResult.$Shape;
            static create(properties?: shardkv.kv.OpResult.$Properties): shardkv.kv.OpResult;
            static encode(m: shardkv.kv.OpResult.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.OpResult & shardkv.kv.OpResult.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace OpResult {
            interface $Properties {
                found?: (boolean|null);
                value?: (Uint8Array|null);
                swapped?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.OpResult.$Properties;
        }

        interface IRequestId extends shardkv.kv.RequestId.$Properties {
        }

        class RequestId {
            constructor(p?: shardkv.kv.RequestId.$Properties);
            $unknowns?: Uint8Array[];
            clientId: Uint8Array;
            seq: number;
            ackedBelow: number;
            static create(properties: shardkv.kv.RequestId.$Shape): shardkv.kv.RequestId & shardkv.kv.RequestId.$Shape;
            static create(properties?: shardkv.kv.RequestId.$Properties): shardkv.kv.RequestId;
            static encode(m: shardkv.kv.RequestId.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.RequestId & shardkv.kv.RequestId.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace RequestId {
            interface $Properties {
                clientId?: (Uint8Array|null);
                seq?: (number|null);
                ackedBelow?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.RequestId.$Properties;
        }

        interface IGetRequest extends shardkv.kv.GetRequest.$Properties {
        }

        class GetRequest {
            constructor(p?: shardkv.kv.GetRequest.$Properties);
            $unknowns?: Uint8Array[];
            key: Uint8Array;
            static create(properties: shardkv.kv.GetRequest.$Shape): shardkv.kv.GetRequest & shardkv.kv.GetRequest.$Shape;
            static create(properties?: shardkv.kv.GetRequest.$Properties): shardkv.kv.GetRequest;
            static encode(m: shardkv.kv.GetRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.GetRequest & shardkv.kv.GetRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace GetRequest {
            interface $Properties {
                key?: (Uint8Array|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.GetRequest.$Properties;
        }

        interface IGetReply extends shardkv.kv.GetReply.$Properties {
        }

        class GetReply {
            constructor(p?: shardkv.kv.GetReply.$Properties);
            $unknowns?: Uint8Array[];
            found: boolean;
            value: Uint8Array;
            static create(properties: shardkv.kv.GetReply.$Shape): shardkv.kv.GetReply & shardkv.kv.GetReply.$Shape;
            static create(properties?: shardkv.kv.GetReply.$Properties): shardkv.kv.GetReply;
            static encode(m: shardkv.kv.GetReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.GetReply & shardkv.kv.GetReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace GetReply {
            interface $Properties {
                found?: (boolean|null);
                value?: (Uint8Array|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.GetReply.$Properties;
        }

        interface IWriteRequest extends shardkv.kv.WriteRequest.$Properties {
        }

        class WriteRequest {
            constructor(p?: shardkv.kv.WriteRequest.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.kv.RequestId.$Properties|null);
            shard: number;
            ops: shardkv.kv.Op.$Properties[];
            static create(properties: shardkv.kv.WriteRequest.$Shape): shardkv.kv.WriteRequest & shardkv.kv.WriteRequest.$Shape;
            static create(properties?: shardkv.kv.WriteRequest.$Properties): shardkv.kv.WriteRequest;
            static encode(m: shardkv.kv.WriteRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.WriteRequest & shardkv.kv.WriteRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace WriteRequest {
            interface $Properties {
                id?: (shardkv.kv.RequestId.$Properties|null);
                shard?: (number|null);
                ops?: (shardkv.kv.Op.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.WriteRequest.$Properties;
        }

        interface IWriteReply extends shardkv.kv.WriteReply.$Properties {
        }

        class WriteReply {
            constructor(p?: shardkv.kv.WriteReply.$Properties);
            $unknowns?: Uint8Array[];
            results: shardkv.kv.OpResult.$Properties[];
            static create(properties: shardkv.kv.WriteReply.$Shape): shardkv.kv.WriteReply & shardkv.kv.WriteReply.$Shape;
            static create(properties?: shardkv.kv.WriteReply.$Properties): shardkv.kv.WriteReply;
            static encode(m: shardkv.kv.WriteReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.WriteReply & shardkv.kv.WriteReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace WriteReply {
            interface $Properties {
                results?: (shardkv.kv.OpResult.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.WriteReply.$Properties;
        }

        interface IPullShardRequest extends shardkv.kv.PullShardRequest.$Properties {
        }

        class PullShardRequest {
            constructor(p?: shardkv.kv.PullShardRequest.$Properties);
            $unknowns?: Uint8Array[];
            configNum: number;
            shard: number;
            afterKey: Uint8Array;
            afterKeySet: boolean;
            static create(properties: shardkv.kv.PullShardRequest.$Shape): shardkv.kv.PullShardRequest & shardkv.kv.PullShardRequest.$Shape;
            static create(properties?: shardkv.kv.PullShardRequest.$Properties): shardkv.kv.PullShardRequest;
            static encode(m: shardkv.kv.PullShardRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.PullShardRequest & shardkv.kv.PullShardRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace PullShardRequest {
            interface $Properties {
                configNum?: (number|null);
                shard?: (number|null);
                afterKey?: (Uint8Array|null);
                afterKeySet?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.PullShardRequest.$Properties;
        }

        interface IKeyValue extends shardkv.kv.KeyValue.$Properties {
        }

        class KeyValue {
            constructor(p?: shardkv.kv.KeyValue.$Properties);
            $unknowns?: Uint8Array[];
            key: Uint8Array;
            value: Uint8Array;
            static create(properties: shardkv.kv.KeyValue.$Shape): shardkv.kv.KeyValue & shardkv.kv.KeyValue.$Shape;
            static create(properties?: shardkv.kv.KeyValue.$Properties): shardkv.kv.KeyValue;
            static encode(m: shardkv.kv.KeyValue.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.KeyValue & shardkv.kv.KeyValue.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace KeyValue {
            interface $Properties {
                key?: (Uint8Array|null);
                value?: (Uint8Array|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.KeyValue.$Properties;
        }

        interface IDedupRecord extends shardkv.kv.DedupRecord.$Properties {
        }

        class DedupRecord {
            constructor(p?: shardkv.kv.DedupRecord.$Properties);
            $unknowns?: Uint8Array[];
            clientId: Uint8Array;
            ackedBelow: number;
            replies: shardkv.kv.SavedReply.$Properties[];
            lastSeenMs: number;
            static create(properties: shardkv.kv.DedupRecord.$Shape): shardkv.kv.DedupRecord & shardkv.kv.DedupRecord.$Shape;
            static create(properties?: shardkv.kv.DedupRecord.$Properties): shardkv.kv.DedupRecord;
            static encode(m: shardkv.kv.DedupRecord.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.DedupRecord & shardkv.kv.DedupRecord.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace DedupRecord {
            interface $Properties {
                clientId?: (Uint8Array|null);
                ackedBelow?: (number|null);
                replies?: (shardkv.kv.SavedReply.$Properties[]|null);
                lastSeenMs?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.DedupRecord.$Properties;
        }

        interface ISavedReply extends shardkv.kv.SavedReply.$Properties {
        }

        class SavedReply {
            constructor(p?: shardkv.kv.SavedReply.$Properties);
            $unknowns?: Uint8Array[];
            seq: number;
            results: shardkv.kv.OpResult.$Properties[];
            static create(properties: shardkv.kv.SavedReply.$Shape): shardkv.kv.SavedReply & shardkv.kv.SavedReply.$Shape;
            static create(properties?: shardkv.kv.SavedReply.$Properties): shardkv.kv.SavedReply;
            static encode(m: shardkv.kv.SavedReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.SavedReply & shardkv.kv.SavedReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace SavedReply {
            interface $Properties {
                seq?: (number|null);
                results?: (shardkv.kv.OpResult.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.SavedReply.$Properties;
        }

        interface IShardChunk extends shardkv.kv.ShardChunk.$Properties {
        }

        class ShardChunk {
            constructor(p?: shardkv.kv.ShardChunk.$Properties);
            $unknowns?: Uint8Array[];
            configNum: number;
            shard: number;
            kvs: shardkv.kv.KeyValue.$Properties[];
            last: boolean;
            dedup: shardkv.kv.DedupRecord.$Properties[];
            continues: boolean;
            afterKey: Uint8Array;
            afterAny: boolean;
            afterClient: Uint8Array;
            static create(properties: shardkv.kv.ShardChunk.$Shape): shardkv.kv.ShardChunk & shardkv.kv.ShardChunk.$Shape;
            static create(properties?: shardkv.kv.ShardChunk.$Properties): shardkv.kv.ShardChunk;
            static encode(m: shardkv.kv.ShardChunk.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.ShardChunk & shardkv.kv.ShardChunk.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ShardChunk {
            interface $Properties {
                configNum?: (number|null);
                shard?: (number|null);
                kvs?: (shardkv.kv.KeyValue.$Properties[]|null);
                last?: (boolean|null);
                dedup?: (shardkv.kv.DedupRecord.$Properties[]|null);
                continues?: (boolean|null);
                afterKey?: (Uint8Array|null);
                afterAny?: (boolean|null);
                afterClient?: (Uint8Array|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.ShardChunk.$Properties;
        }

        interface IDeleteShardRequest extends shardkv.kv.DeleteShardRequest.$Properties {
        }

        class DeleteShardRequest {
            constructor(p?: shardkv.kv.DeleteShardRequest.$Properties);
            $unknowns?: Uint8Array[];
            configNum: number;
            shard: number;
            static create(properties: shardkv.kv.DeleteShardRequest.$Shape): shardkv.kv.DeleteShardRequest & shardkv.kv.DeleteShardRequest.$Shape;
            static create(properties?: shardkv.kv.DeleteShardRequest.$Properties): shardkv.kv.DeleteShardRequest;
            static encode(m: shardkv.kv.DeleteShardRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.DeleteShardRequest & shardkv.kv.DeleteShardRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace DeleteShardRequest {
            interface $Properties {
                configNum?: (number|null);
                shard?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.DeleteShardRequest.$Properties;
        }

        interface IDeleteShardReply extends shardkv.kv.DeleteShardReply.$Properties {
        }

        class DeleteShardReply {
            constructor(p?: shardkv.kv.DeleteShardReply.$Properties);
            $unknowns?: Uint8Array[];
            static create(properties: shardkv.kv.DeleteShardReply.$Shape): shardkv.kv.DeleteShardReply & shardkv.kv.DeleteShardReply.$Shape;
            static create(properties?: shardkv.kv.DeleteShardReply.$Properties): shardkv.kv.DeleteShardReply;
            static encode(m: shardkv.kv.DeleteShardReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.DeleteShardReply & shardkv.kv.DeleteShardReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace DeleteShardReply {
            interface $Properties {
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.DeleteShardReply.$Properties;
        }

        enum ShardState {
            SHARD_NOT_OWNED = 0,
            SHARD_SERVING = 1,
            SHARD_PULLING = 2,
            SHARD_HANDOFF = 3,
            SHARD_GC = 4,
            SHARD_HELD = 5
        }

        interface IShardMeta extends shardkv.kv.ShardMeta.$Properties {
        }

        class ShardMeta {
            constructor(p?: shardkv.kv.ShardMeta.$Properties);
            $unknowns?: Uint8Array[];
            shard: number;
            state: shardkv.kv.ShardState;
            configNum: number;
            pulledAfterKey: Uint8Array;
            pulledAny: boolean;
            gcConfigNum: number;
            held: boolean;
            pulledAfterClient: Uint8Array;
            static create(properties: shardkv.kv.ShardMeta.$Shape): shardkv.kv.ShardMeta & shardkv.kv.ShardMeta.$Shape;
            static create(properties?: shardkv.kv.ShardMeta.$Properties): shardkv.kv.ShardMeta;
            static encode(m: shardkv.kv.ShardMeta.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.ShardMeta & shardkv.kv.ShardMeta.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ShardMeta {
            interface $Properties {
                shard?: (number|null);
                state?: (shardkv.kv.ShardState|null);
                configNum?: (number|null);
                pulledAfterKey?: (Uint8Array|null);
                pulledAny?: (boolean|null);
                gcConfigNum?: (number|null);
                held?: (boolean|null);
                pulledAfterClient?: (Uint8Array|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.ShardMeta.$Properties;
        }

        interface IAbortHandoff extends shardkv.kv.AbortHandoff.$Properties {
        }

        class AbortHandoff {
            constructor(p?: shardkv.kv.AbortHandoff.$Properties);
            $unknowns?: Uint8Array[];
            configNum: number;
            shard: number;
            aborted?: (shardkv.controller.AbortedJoin.$Properties|null);
            static create(properties: shardkv.kv.AbortHandoff.$Shape): shardkv.kv.AbortHandoff & shardkv.kv.AbortHandoff.$Shape;
            static create(properties?: shardkv.kv.AbortHandoff.$Properties): shardkv.kv.AbortHandoff;
            static encode(m: shardkv.kv.AbortHandoff.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.AbortHandoff & shardkv.kv.AbortHandoff.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace AbortHandoff {
            interface $Properties {
                configNum?: (number|null);
                shard?: (number|null);
                aborted?: (shardkv.controller.AbortedJoin.$Properties|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.AbortHandoff.$Properties;
        }

        interface ICommand extends shardkv.kv.Command.$Properties {
        }

        class Command {
            constructor(p?: shardkv.kv.Command.$Properties);
            $unknowns?: Uint8Array[];
            timestampMs: number;
            write?: (shardkv.kv.WriteRequest.$Properties|null);
            reconfigure?: (shardkv.controller.Config.$Properties|null);
            insert?: (shardkv.kv.ShardChunk.$Properties|null);
            deleteShard?: (shardkv.kv.DeleteShardRequest.$Properties|null);
            gcDone?: (shardkv.kv.DeleteShardRequest.$Properties|null);
            abortHandoff?: (shardkv.kv.AbortHandoff.$Properties|null);
            op?: ("write"|"reconfigure"|"insert"|"deleteShard"|"gcDone"|"abortHandoff");
            static create(properties: shardkv.kv.Command.$Shape): shardkv.kv.Command & shardkv.kv.Command.$Shape;
            static create(properties?: shardkv.kv.Command.$Properties): shardkv.kv.Command;
            static encode(m: shardkv.kv.Command.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.Command & shardkv.kv.Command.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Command {
            interface $Properties {
                timestampMs?: (number|null);
                write?: (shardkv.kv.WriteRequest.$Properties|null);
                reconfigure?: (shardkv.controller.Config.$Properties|null);
                insert?: (shardkv.kv.ShardChunk.$Properties|null);
                deleteShard?: (shardkv.kv.DeleteShardRequest.$Properties|null);
                gcDone?: (shardkv.kv.DeleteShardRequest.$Properties|null);
                abortHandoff?: (shardkv.kv.AbortHandoff.$Properties|null);
                op?: ("write"|"reconfigure"|"insert"|"deleteShard"|"gcDone"|"abortHandoff");
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              timestampMs?: number|null;
              write?: shardkv.kv.WriteRequest.$Shape|null;
              reconfigure?: shardkv.controller.Config.$Shape|null;
              insert?: shardkv.kv.ShardChunk.$Shape|null;
              deleteShard?: shardkv.kv.DeleteShardRequest.$Shape|null;
              gcDone?: shardkv.kv.DeleteShardRequest.$Shape|null;
              abortHandoff?: shardkv.kv.AbortHandoff.$Shape|null;
              $unknowns?: Uint8Array[];
            } & (
              ({ op?: undefined; write?: null; reconfigure?: null; insert?: null; deleteShard?: null; gcDone?: null; abortHandoff?: null }|{ op?: "write"; write: shardkv.kv.WriteRequest.$Shape; reconfigure?: null; insert?: null; deleteShard?: null; gcDone?: null; abortHandoff?: null }|{ op?: "reconfigure"; write?: null; reconfigure: shardkv.controller.Config.$Shape; insert?: null; deleteShard?: null; gcDone?: null; abortHandoff?: null }|{ op?: "insert"; write?: null; reconfigure?: null; insert: shardkv.kv.ShardChunk.$Shape; deleteShard?: null; gcDone?: null; abortHandoff?: null }|{ op?: "deleteShard"; write?: null; reconfigure?: null; insert?: null; deleteShard: shardkv.kv.DeleteShardRequest.$Shape; gcDone?: null; abortHandoff?: null }|{ op?: "gcDone"; write?: null; reconfigure?: null; insert?: null; deleteShard?: null; gcDone: shardkv.kv.DeleteShardRequest.$Shape; abortHandoff?: null }|{ op?: "abortHandoff"; write?: null; reconfigure?: null; insert?: null; deleteShard?: null; gcDone?: null; abortHandoff: shardkv.kv.AbortHandoff.$Shape })
            );
        }

        interface IStatusRequest extends shardkv.kv.StatusRequest.$Properties {
        }

        class StatusRequest {
            constructor(p?: shardkv.kv.StatusRequest.$Properties);
            $unknowns?: Uint8Array[];
            static create(properties: shardkv.kv.StatusRequest.$Shape): shardkv.kv.StatusRequest & shardkv.kv.StatusRequest.$Shape;
            static create(properties?: shardkv.kv.StatusRequest.$Properties): shardkv.kv.StatusRequest;
            static encode(m: shardkv.kv.StatusRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.StatusRequest & shardkv.kv.StatusRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace StatusRequest {
            interface $Properties {
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.StatusRequest.$Properties;
        }

        interface IShardStatus extends shardkv.kv.ShardStatus.$Properties {
        }

        class ShardStatus {
            constructor(p?: shardkv.kv.ShardStatus.$Properties);
            $unknowns?: Uint8Array[];
            shard: number;
            state: shardkv.kv.ShardState;
            configNum: number;
            keys: number;
            bytes: number;
            dedupClients: number;
            static create(properties: shardkv.kv.ShardStatus.$Shape): shardkv.kv.ShardStatus & shardkv.kv.ShardStatus.$Shape;
            static create(properties?: shardkv.kv.ShardStatus.$Properties): shardkv.kv.ShardStatus;
            static encode(m: shardkv.kv.ShardStatus.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.ShardStatus & shardkv.kv.ShardStatus.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ShardStatus {
            interface $Properties {
                shard?: (number|null);
                state?: (shardkv.kv.ShardState|null);
                configNum?: (number|null);
                keys?: (number|null);
                bytes?: (number|null);
                dedupClients?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.ShardStatus.$Properties;
        }

        interface IStatusReply extends shardkv.kv.StatusReply.$Properties {
        }

        class StatusReply {
            constructor(p?: shardkv.kv.StatusReply.$Properties);
            $unknowns?: Uint8Array[];
            gid: number;
            id: number;
            role: string;
            term: number;
            leader: number;
            leaderAddress: string;
            configNum: number;
            commitIndex: number;
            appliedIndex: number;
            shards: shardkv.kv.ShardStatus.$Properties[];
            members: shardkv.raft.RaftMember.$Properties[];
            confIndex: number;
            leaderCommitIndex: number;
            lag: number;
            firstIndex: number;
            lastIndex: number;
            logEntries: number;
            logBytes: number;
            snapshotIndex: number;
            snapshotBytes: number;
            dataDirBytes: number;
            uptimeMs: number;
            version: string;
            static create(properties: shardkv.kv.StatusReply.$Shape): shardkv.kv.StatusReply & shardkv.kv.StatusReply.$Shape;
            static create(properties?: shardkv.kv.StatusReply.$Properties): shardkv.kv.StatusReply;
            static encode(m: shardkv.kv.StatusReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.StatusReply & shardkv.kv.StatusReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace StatusReply {
            interface $Properties {
                gid?: (number|null);
                id?: (number|null);
                role?: (string|null);
                term?: (number|null);
                leader?: (number|null);
                leaderAddress?: (string|null);
                configNum?: (number|null);
                commitIndex?: (number|null);
                appliedIndex?: (number|null);
                shards?: (shardkv.kv.ShardStatus.$Properties[]|null);
                members?: (shardkv.raft.RaftMember.$Properties[]|null);
                confIndex?: (number|null);
                leaderCommitIndex?: (number|null);
                lag?: (number|null);
                firstIndex?: (number|null);
                lastIndex?: (number|null);
                logEntries?: (number|null);
                logBytes?: (number|null);
                snapshotIndex?: (number|null);
                snapshotBytes?: (number|null);
                dataDirBytes?: (number|null);
                uptimeMs?: (number|null);
                version?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.StatusReply.$Properties;
        }

        interface IIdentifyRequest extends shardkv.kv.IdentifyRequest.$Properties {
        }

        class IdentifyRequest {
            constructor(p?: shardkv.kv.IdentifyRequest.$Properties);
            $unknowns?: Uint8Array[];
            static create(properties: shardkv.kv.IdentifyRequest.$Shape): shardkv.kv.IdentifyRequest & shardkv.kv.IdentifyRequest.$Shape;
            static create(properties?: shardkv.kv.IdentifyRequest.$Properties): shardkv.kv.IdentifyRequest;
            static encode(m: shardkv.kv.IdentifyRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.IdentifyRequest & shardkv.kv.IdentifyRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace IdentifyRequest {
            interface $Properties {
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.IdentifyRequest.$Properties;
        }

        interface IIdentifyReply extends shardkv.kv.IdentifyReply.$Properties {
        }

        class IdentifyReply {
            constructor(p?: shardkv.kv.IdentifyReply.$Properties);
            $unknowns?: Uint8Array[];
            gid: number;
            id: number;
            shardCount: number;
            clusterId: string;
            hasData: boolean;
            static create(properties: shardkv.kv.IdentifyReply.$Shape): shardkv.kv.IdentifyReply & shardkv.kv.IdentifyReply.$Shape;
            static create(properties?: shardkv.kv.IdentifyReply.$Properties): shardkv.kv.IdentifyReply;
            static encode(m: shardkv.kv.IdentifyReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.IdentifyReply & shardkv.kv.IdentifyReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace IdentifyReply {
            interface $Properties {
                gid?: (number|null);
                id?: (number|null);
                shardCount?: (number|null);
                clusterId?: (string|null);
                hasData?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.IdentifyReply.$Properties;
        }

        interface IError extends shardkv.kv.Error.$Properties {
        }

        class Error {
            constructor(p?: shardkv.kv.Error.$Properties);
            $unknowns?: Uint8Array[];
            code: string;
            message: string;
            fields: { [k: string]: string };
            static create(properties: shardkv.kv.Error.$Shape): shardkv.kv.Error & shardkv.kv.Error.$Shape;
            static create(properties?: shardkv.kv.Error.$Properties): shardkv.kv.Error;
            static encode(m: shardkv.kv.Error.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.Error & shardkv.kv.Error.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Error {
            interface $Properties {
                code?: (string|null);
                message?: (string|null);
                fields?: ({ [k: string]: string }|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.kv.Error.$Properties;
        }

        interface IBatchRequest extends shardkv.kv.BatchRequest.$Properties {
        }

        class BatchRequest {
            constructor(p?: shardkv.kv.BatchRequest.$Properties);
            $unknowns?: Uint8Array[];
            requests: shardkv.kv.BatchRequest.Request.$Properties[];
            static create(properties: shardkv.kv.BatchRequest.$Shape): shardkv.kv.BatchRequest & shardkv.kv.BatchRequest.$Shape;
            static create(properties?: shardkv.kv.BatchRequest.$Properties): shardkv.kv.BatchRequest;
            static encode(m: shardkv.kv.BatchRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.BatchRequest & shardkv.kv.BatchRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace BatchRequest {
            interface $Properties {
                requests?: (shardkv.kv.BatchRequest.Request.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              requests?: shardkv.kv.BatchRequest.Request.$Shape[]|null;
              $unknowns?: Uint8Array[];
            };

            interface IRequest extends shardkv.kv.BatchRequest.Request.$Properties {
            }

            class Request {
                constructor(p?: shardkv.kv.BatchRequest.Request.$Properties);
                $unknowns?: Uint8Array[];
                requestId: number;
                get?: (shardkv.kv.GetRequest.$Properties|null);
                write?: (shardkv.kv.WriteRequest.$Properties|null);
                cmd?: ("get"|"write");
                static create(properties: shardkv.kv.BatchRequest.Request.$Shape): shardkv.kv.BatchRequest.Request & shardkv.kv.BatchRequest.Request.$Shape;
                static create(properties?: shardkv.kv.BatchRequest.Request.$Properties): shardkv.kv.BatchRequest.Request;
                static encode(m: shardkv.kv.BatchRequest.Request.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
                static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.BatchRequest.Request & shardkv.kv.BatchRequest.Request.$Shape;
                static getTypeUrl(prefix?: string): string;
            }

            namespace Request {
                interface $Properties {
                    requestId?: (number|null);
                    get?: (shardkv.kv.GetRequest.$Properties|null);
                    write?: (shardkv.kv.WriteRequest.$Properties|null);
                    cmd?: ("get"|"write");
                    $unknowns?: Uint8Array[];
                }
                type $Shape = {
                  requestId?: number|null;
                  get?: shardkv.kv.GetRequest.$Shape|null;
                  write?: shardkv.kv.WriteRequest.$Shape|null;
                  $unknowns?: Uint8Array[];
                } & (
                  ({ cmd?: undefined; get?: null; write?: null }|{ cmd?: "get"; get: shardkv.kv.GetRequest.$Shape; write?: null }|{ cmd?: "write"; get?: null; write: shardkv.kv.WriteRequest.$Shape })
                );
            }
        }

        interface IBatchResponse extends shardkv.kv.BatchResponse.$Properties {
        }

        class BatchResponse {
            constructor(p?: shardkv.kv.BatchResponse.$Properties);
            $unknowns?: Uint8Array[];
            responses: shardkv.kv.BatchResponse.Response.$Properties[];
            static create(properties: shardkv.kv.BatchResponse.$Shape): shardkv.kv.BatchResponse & shardkv.kv.BatchResponse.$Shape;
            static create(properties?: shardkv.kv.BatchResponse.$Properties): shardkv.kv.BatchResponse;
            static encode(m: shardkv.kv.BatchResponse.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.BatchResponse & shardkv.kv.BatchResponse.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace BatchResponse {
            interface $Properties {
                responses?: (shardkv.kv.BatchResponse.Response.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              responses?: shardkv.kv.BatchResponse.Response.$Shape[]|null;
              $unknowns?: Uint8Array[];
            };

            interface IResponse extends shardkv.kv.BatchResponse.Response.$Properties {
            }

            class Response {
                constructor(p?: shardkv.kv.BatchResponse.Response.$Properties);
                $unknowns?: Uint8Array[];
                requestId: number;
                get?: (shardkv.kv.GetReply.$Properties|null);
                write?: (shardkv.kv.WriteReply.$Properties|null);
                error?: (shardkv.kv.Error.$Properties|null);
                reply?: ("get"|"write"|"error");
                static create(properties: shardkv.kv.BatchResponse.Response.$Shape): shardkv.kv.BatchResponse.Response & shardkv.kv.BatchResponse.Response.$Shape;
                static create(properties?: shardkv.kv.BatchResponse.Response.$Properties): shardkv.kv.BatchResponse.Response;
                static encode(m: shardkv.kv.BatchResponse.Response.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
                static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.kv.BatchResponse.Response & shardkv.kv.BatchResponse.Response.$Shape;
                static getTypeUrl(prefix?: string): string;
            }

            namespace Response {
                interface $Properties {
                    requestId?: (number|null);
                    get?: (shardkv.kv.GetReply.$Properties|null);
                    write?: (shardkv.kv.WriteReply.$Properties|null);
                    error?: (shardkv.kv.Error.$Properties|null);
                    reply?: ("get"|"write"|"error");
                    $unknowns?: Uint8Array[];
                }
                type $Shape = {
                  requestId?: number|null;
                  get?: shardkv.kv.GetReply.$Shape|null;
                  write?: shardkv.kv.WriteReply.$Shape|null;
                  error?: shardkv.kv.Error.$Shape|null;
                  $unknowns?: Uint8Array[];
                } & (
                  ({ reply?: undefined; get?: null; write?: null; error?: null }|{ reply?: "get"; get: shardkv.kv.GetReply.$Shape; write?: null; error?: null }|{ reply?: "write"; get?: null; write: shardkv.kv.WriteReply.$Shape; error?: null }|{ reply?: "error"; get?: null; write?: null; error: shardkv.kv.Error.$Shape })
                );
            }
        }

        class ShardKV extends $protobuf.rpc.Service {
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): ShardKV;
            batch: shardkv.kv.ShardKV.Batch;
            pullShard: shardkv.kv.ShardKV.PullShard;
            deleteShard: shardkv.kv.ShardKV.DeleteShard;
            status: shardkv.kv.ShardKV.Status;
            identify: shardkv.kv.ShardKV.Identify;
        }

        namespace ShardKV {
            type BatchCallback = (error: (Error|null), response?: shardkv.kv.BatchResponse) => void;
            type Batch = {
              (request: shardkv.kv.IBatchRequest, callback: shardkv.kv.ShardKV.BatchCallback): void;
              (request: shardkv.kv.IBatchRequest): Promise<shardkv.kv.BatchResponse>;
              readonly name: "Batch";
              readonly path: "/shardkv.kv.ShardKV/Batch";
              readonly requestType: "BatchRequest";
              readonly responseType: "BatchResponse";
              readonly requestStream: true;
              readonly responseStream: true;
            };
            type PullShardCallback = (error: (Error|null), response?: shardkv.kv.ShardChunk) => void;
            type PullShard = {
              (request: shardkv.kv.IPullShardRequest, callback: shardkv.kv.ShardKV.PullShardCallback): void;
              (request: shardkv.kv.IPullShardRequest): Promise<shardkv.kv.ShardChunk>;
              readonly name: "PullShard";
              readonly path: "/shardkv.kv.ShardKV/PullShard";
              readonly requestType: "PullShardRequest";
              readonly responseType: "ShardChunk";
              readonly requestStream: undefined;
              readonly responseStream: true;
            };
            type DeleteShardCallback = (error: (Error|null), response?: shardkv.kv.DeleteShardReply) => void;
            type DeleteShard = {
              (request: shardkv.kv.IDeleteShardRequest, callback: shardkv.kv.ShardKV.DeleteShardCallback): void;
              (request: shardkv.kv.IDeleteShardRequest): Promise<shardkv.kv.DeleteShardReply>;
              readonly name: "DeleteShard";
              readonly path: "/shardkv.kv.ShardKV/DeleteShard";
              readonly requestType: "DeleteShardRequest";
              readonly responseType: "DeleteShardReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type StatusCallback = (error: (Error|null), response?: shardkv.kv.StatusReply) => void;
            type Status = {
              (request: shardkv.kv.IStatusRequest, callback: shardkv.kv.ShardKV.StatusCallback): void;
              (request: shardkv.kv.IStatusRequest): Promise<shardkv.kv.StatusReply>;
              readonly name: "Status";
              readonly path: "/shardkv.kv.ShardKV/Status";
              readonly requestType: "StatusRequest";
              readonly responseType: "StatusReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type IdentifyCallback = (error: (Error|null), response?: shardkv.kv.IdentifyReply) => void;
            type Identify = {
              (request: shardkv.kv.IIdentifyRequest, callback: shardkv.kv.ShardKV.IdentifyCallback): void;
              (request: shardkv.kv.IIdentifyRequest): Promise<shardkv.kv.IdentifyReply>;
              readonly name: "Identify";
              readonly path: "/shardkv.kv.ShardKV/Identify";
              readonly requestType: "IdentifyRequest";
              readonly responseType: "IdentifyReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
        }
    }

    namespace controller {

        interface IMember extends shardkv.controller.Member.$Properties {
        }

        class Member {
            constructor(p?: shardkv.controller.Member.$Properties);
            $unknowns?: Uint8Array[];
            id: number;
            address: string;
            learner: boolean;
            static create(properties: shardkv.controller.Member.$Shape): shardkv.controller.Member & shardkv.controller.Member.$Shape;
            static create(properties?: shardkv.controller.Member.$Properties): shardkv.controller.Member;
            static encode(m: shardkv.controller.Member.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.Member & shardkv.controller.Member.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Member {
            interface $Properties {
                id?: (number|null);
                address?: (string|null);
                learner?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.Member.$Properties;
        }

        interface IGroup extends shardkv.controller.Group.$Properties {
        }

        class Group {
            constructor(p?: shardkv.controller.Group.$Properties);
            $unknowns?: Uint8Array[];
            gid: number;
            servers: string[];
            members: shardkv.controller.Member.$Properties[];
            static create(properties: shardkv.controller.Group.$Shape): shardkv.controller.Group & shardkv.controller.Group.$Shape;
            static create(properties?: shardkv.controller.Group.$Properties): shardkv.controller.Group;
            static encode(m: shardkv.controller.Group.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.Group & shardkv.controller.Group.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Group {
            interface $Properties {
                gid?: (number|null);
                servers?: (string[]|null);
                members?: (shardkv.controller.Member.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.Group.$Properties;
        }

        interface IAbortedJoin extends shardkv.controller.AbortedJoin.$Properties {
        }

        class AbortedJoin {
            constructor(p?: shardkv.controller.AbortedJoin.$Properties);
            $unknowns?: Uint8Array[];
            gid: number;
            joinNum: number;
            abortNum: number;
            static create(properties: shardkv.controller.AbortedJoin.$Shape): shardkv.controller.AbortedJoin & shardkv.controller.AbortedJoin.$Shape;
            static create(properties?: shardkv.controller.AbortedJoin.$Properties): shardkv.controller.AbortedJoin;
            static encode(m: shardkv.controller.AbortedJoin.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.AbortedJoin & shardkv.controller.AbortedJoin.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace AbortedJoin {
            interface $Properties {
                gid?: (number|null);
                joinNum?: (number|null);
                abortNum?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.AbortedJoin.$Properties;
        }

        interface IConfig extends shardkv.controller.Config.$Properties {
        }

        class Config {
            constructor(p?: shardkv.controller.Config.$Properties);
            $unknowns?: Uint8Array[];
            num: number;
            shards: number[];
            groups: shardkv.controller.Group.$Properties[];
            abortedJoins: shardkv.controller.AbortedJoin.$Properties[];
            static create(properties: shardkv.controller.Config.$Shape): shardkv.controller.Config & shardkv.controller.Config.$Shape;
            static create(properties?: shardkv.controller.Config.$Properties): shardkv.controller.Config;
            static encode(m: shardkv.controller.Config.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.Config & shardkv.controller.Config.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Config {
            interface $Properties {
                num?: (number|null);
                shards?: (number[]|null);
                groups?: (shardkv.controller.Group.$Properties[]|null);
                abortedJoins?: (shardkv.controller.AbortedJoin.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.Config.$Properties;
        }

        interface IRequestId extends shardkv.controller.RequestId.$Properties {
        }

        class RequestId {
            constructor(p?: shardkv.controller.RequestId.$Properties);
            $unknowns?: Uint8Array[];
            clientId: Uint8Array;
            seq: number;
            static create(properties: shardkv.controller.RequestId.$Shape): shardkv.controller.RequestId & shardkv.controller.RequestId.$Shape;
            static create(properties?: shardkv.controller.RequestId.$Properties): shardkv.controller.RequestId;
            static encode(m: shardkv.controller.RequestId.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.RequestId & shardkv.controller.RequestId.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace RequestId {
            interface $Properties {
                clientId?: (Uint8Array|null);
                seq?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.RequestId.$Properties;
        }

        interface IJoinRequest extends shardkv.controller.JoinRequest.$Properties {
        }

        class JoinRequest {
            constructor(p?: shardkv.controller.JoinRequest.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.controller.RequestId.$Properties|null);
            groups: shardkv.controller.Group.$Properties[];
            force: boolean;
            static create(properties: shardkv.controller.JoinRequest.$Shape): shardkv.controller.JoinRequest & shardkv.controller.JoinRequest.$Shape;
            static create(properties?: shardkv.controller.JoinRequest.$Properties): shardkv.controller.JoinRequest;
            static encode(m: shardkv.controller.JoinRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.JoinRequest & shardkv.controller.JoinRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace JoinRequest {
            interface $Properties {
                id?: (shardkv.controller.RequestId.$Properties|null);
                groups?: (shardkv.controller.Group.$Properties[]|null);
                force?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.JoinRequest.$Properties;
        }

        interface ILeaveRequest extends shardkv.controller.LeaveRequest.$Properties {
        }

        class LeaveRequest {
            constructor(p?: shardkv.controller.LeaveRequest.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.controller.RequestId.$Properties|null);
            gids: number[];
            static create(properties: shardkv.controller.LeaveRequest.$Shape): shardkv.controller.LeaveRequest & shardkv.controller.LeaveRequest.$Shape;
            static create(properties?: shardkv.controller.LeaveRequest.$Properties): shardkv.controller.LeaveRequest;
            static encode(m: shardkv.controller.LeaveRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.LeaveRequest & shardkv.controller.LeaveRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace LeaveRequest {
            interface $Properties {
                id?: (shardkv.controller.RequestId.$Properties|null);
                gids?: (number[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.LeaveRequest.$Properties;
        }

        interface IMoveRequest extends shardkv.controller.MoveRequest.$Properties {
        }

        class MoveRequest {
            constructor(p?: shardkv.controller.MoveRequest.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.controller.RequestId.$Properties|null);
            shard: number;
            gid: number;
            static create(properties: shardkv.controller.MoveRequest.$Shape): shardkv.controller.MoveRequest & shardkv.controller.MoveRequest.$Shape;
            static create(properties?: shardkv.controller.MoveRequest.$Properties): shardkv.controller.MoveRequest;
            static encode(m: shardkv.controller.MoveRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.MoveRequest & shardkv.controller.MoveRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace MoveRequest {
            interface $Properties {
                id?: (shardkv.controller.RequestId.$Properties|null);
                shard?: (number|null);
                gid?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.MoveRequest.$Properties;
        }

        interface IAckJoinRequest extends shardkv.controller.AckJoinRequest.$Properties {
        }

        class AckJoinRequest {
            constructor(p?: shardkv.controller.AckJoinRequest.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.controller.RequestId.$Properties|null);
            gid: number;
            joinNum: number;
            static create(properties: shardkv.controller.AckJoinRequest.$Shape): shardkv.controller.AckJoinRequest & shardkv.controller.AckJoinRequest.$Shape;
            static create(properties?: shardkv.controller.AckJoinRequest.$Properties): shardkv.controller.AckJoinRequest;
            static encode(m: shardkv.controller.AckJoinRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.AckJoinRequest & shardkv.controller.AckJoinRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace AckJoinRequest {
            interface $Properties {
                id?: (shardkv.controller.RequestId.$Properties|null);
                gid?: (number|null);
                joinNum?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.AckJoinRequest.$Properties;
        }

        interface IAckJoinReply extends shardkv.controller.AckJoinReply.$Properties {
        }

        class AckJoinReply {
            constructor(p?: shardkv.controller.AckJoinReply.$Properties);
            $unknowns?: Uint8Array[];
            abortedNum: number;
            static create(properties: shardkv.controller.AckJoinReply.$Shape): shardkv.controller.AckJoinReply & shardkv.controller.AckJoinReply.$Shape;
            static create(properties?: shardkv.controller.AckJoinReply.$Properties): shardkv.controller.AckJoinReply;
            static encode(m: shardkv.controller.AckJoinReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.AckJoinReply & shardkv.controller.AckJoinReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace AckJoinReply {
            interface $Properties {
                abortedNum?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.AckJoinReply.$Properties;
        }

        interface IChangeReply extends shardkv.controller.ChangeReply.$Properties {
        }

        class ChangeReply {
            constructor(p?: shardkv.controller.ChangeReply.$Properties);
            $unknowns?: Uint8Array[];
            configNum: number;
            static create(properties: shardkv.controller.ChangeReply.$Shape): shardkv.controller.ChangeReply & shardkv.controller.ChangeReply.$Shape;
            static create(properties?: shardkv.controller.ChangeReply.$Properties): shardkv.controller.ChangeReply;
            static encode(m: shardkv.controller.ChangeReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ChangeReply & shardkv.controller.ChangeReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ChangeReply {
            interface $Properties {
                configNum?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.ChangeReply.$Properties;
        }

        interface IQueryRequest extends shardkv.controller.QueryRequest.$Properties {
        }

        class QueryRequest {
            constructor(p?: shardkv.controller.QueryRequest.$Properties);
            $unknowns?: Uint8Array[];
            num: number;
            static create(properties: shardkv.controller.QueryRequest.$Shape): shardkv.controller.QueryRequest & shardkv.controller.QueryRequest.$Shape;
            static create(properties?: shardkv.controller.QueryRequest.$Properties): shardkv.controller.QueryRequest;
            static encode(m: shardkv.controller.QueryRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.QueryRequest & shardkv.controller.QueryRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace QueryRequest {
            interface $Properties {
                num?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.QueryRequest.$Properties;
        }

        interface IQueryReply extends shardkv.controller.QueryReply.$Properties {
        }

        class QueryReply {
            constructor(p?: shardkv.controller.QueryReply.$Properties);
            $unknowns?: Uint8Array[];
            config?: (shardkv.controller.Config.$Properties|null);
            clusterId: string;
            intents: shardkv.controller.GroupIntent.$Properties[];
            controllers: shardkv.controller.Member.$Properties[];
            static create(properties: shardkv.controller.QueryReply.$Shape): shardkv.controller.QueryReply & shardkv.controller.QueryReply.$Shape;
            static create(properties?: shardkv.controller.QueryReply.$Properties): shardkv.controller.QueryReply;
            static encode(m: shardkv.controller.QueryReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.QueryReply & shardkv.controller.QueryReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace QueryReply {
            interface $Properties {
                config?: (shardkv.controller.Config.$Properties|null);
                clusterId?: (string|null);
                intents?: (shardkv.controller.GroupIntent.$Properties[]|null);
                controllers?: (shardkv.controller.Member.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              config?: shardkv.controller.Config.$Shape|null;
              clusterId?: string|null;
              intents?: shardkv.controller.GroupIntent.$Shape[]|null;
              controllers?: shardkv.controller.Member.$Shape[]|null;
              $unknowns?: Uint8Array[];
            };
        }

        interface IReplicaChange extends shardkv.controller.ReplicaChange.$Properties {
        }

        class ReplicaChange {
            constructor(p?: shardkv.controller.ReplicaChange.$Properties);
            $unknowns?: Uint8Array[];
            addLearner?: (shardkv.controller.ReplicaChange.AddLearner.$Properties|null);
            promote?: (shardkv.controller.ReplicaChange.Promote.$Properties|null);
            remove?: (shardkv.controller.ReplicaChange.Remove.$Properties|null);
            replace?: (shardkv.controller.ReplicaChange.Replace.$Properties|null);
            kind?: ("addLearner"|"promote"|"remove"|"replace");
            static create(properties: shardkv.controller.ReplicaChange.$Shape): shardkv.controller.ReplicaChange & shardkv.controller.ReplicaChange.$Shape;
            static create(properties?: shardkv.controller.ReplicaChange.$Properties): shardkv.controller.ReplicaChange;
            static encode(m: shardkv.controller.ReplicaChange.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ReplicaChange & shardkv.controller.ReplicaChange.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ReplicaChange {
            interface $Properties {
                addLearner?: (shardkv.controller.ReplicaChange.AddLearner.$Properties|null);
                promote?: (shardkv.controller.ReplicaChange.Promote.$Properties|null);
                remove?: (shardkv.controller.ReplicaChange.Remove.$Properties|null);
                replace?: (shardkv.controller.ReplicaChange.Replace.$Properties|null);
                kind?: ("addLearner"|"promote"|"remove"|"replace");
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              addLearner?: shardkv.controller.ReplicaChange.AddLearner.$Shape|null;
              promote?: shardkv.controller.ReplicaChange.Promote.$Shape|null;
              remove?: shardkv.controller.ReplicaChange.Remove.$Shape|null;
              replace?: shardkv.controller.ReplicaChange.Replace.$Shape|null;
              $unknowns?: Uint8Array[];
            } & (
              ({ kind?: undefined; addLearner?: null; promote?: null; remove?: null; replace?: null }|{ kind?: "addLearner"; addLearner: shardkv.controller.ReplicaChange.AddLearner.$Shape; promote?: null; remove?: null; replace?: null }|{ kind?: "promote"; addLearner?: null; promote: shardkv.controller.ReplicaChange.Promote.$Shape; remove?: null; replace?: null }|{ kind?: "remove"; addLearner?: null; promote?: null; remove: shardkv.controller.ReplicaChange.Remove.$Shape; replace?: null }|{ kind?: "replace"; addLearner?: null; promote?: null; remove?: null; replace: shardkv.controller.ReplicaChange.Replace.$Shape })
            );

            interface IAddLearner extends shardkv.controller.ReplicaChange.AddLearner.$Properties {
            }

            class AddLearner {
                constructor(p?: shardkv.controller.ReplicaChange.AddLearner.$Properties);
                $unknowns?: Uint8Array[];
                id: number;
                address: string;
                static create(properties: shardkv.controller.ReplicaChange.AddLearner.$Shape): shardkv.controller.ReplicaChange.AddLearner & shardkv.controller.ReplicaChange.AddLearner.$Shape;
                static create(properties?: shardkv.controller.ReplicaChange.AddLearner.$Properties): shardkv.controller.ReplicaChange.AddLearner;
                static encode(m: shardkv.controller.ReplicaChange.AddLearner.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
                static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ReplicaChange.AddLearner & shardkv.controller.ReplicaChange.AddLearner.$Shape;
                static getTypeUrl(prefix?: string): string;
            }

            namespace AddLearner {
                interface $Properties {
                    id?: (number|null);
                    address?: (string|null);
                    $unknowns?: Uint8Array[];
                }
                type $Shape = shardkv.controller.ReplicaChange.AddLearner.$Properties;
            }

            interface IPromote extends shardkv.controller.ReplicaChange.Promote.$Properties {
            }

            class Promote {
                constructor(p?: shardkv.controller.ReplicaChange.Promote.$Properties);
                $unknowns?: Uint8Array[];
                id: number;
                static create(properties: shardkv.controller.ReplicaChange.Promote.$Shape): shardkv.controller.ReplicaChange.Promote & shardkv.controller.ReplicaChange.Promote.$Shape;
                static create(properties?: shardkv.controller.ReplicaChange.Promote.$Properties): shardkv.controller.ReplicaChange.Promote;
                static encode(m: shardkv.controller.ReplicaChange.Promote.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
                static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ReplicaChange.Promote & shardkv.controller.ReplicaChange.Promote.$Shape;
                static getTypeUrl(prefix?: string): string;
            }

            namespace Promote {
                interface $Properties {
                    id?: (number|null);
                    $unknowns?: Uint8Array[];
                }
                type $Shape = shardkv.controller.ReplicaChange.Promote.$Properties;
            }

            interface IRemove extends shardkv.controller.ReplicaChange.Remove.$Properties {
            }

            class Remove {
                constructor(p?: shardkv.controller.ReplicaChange.Remove.$Properties);
                $unknowns?: Uint8Array[];
                id: number;
                static create(properties: shardkv.controller.ReplicaChange.Remove.$Shape): shardkv.controller.ReplicaChange.Remove & shardkv.controller.ReplicaChange.Remove.$Shape;
                static create(properties?: shardkv.controller.ReplicaChange.Remove.$Properties): shardkv.controller.ReplicaChange.Remove;
                static encode(m: shardkv.controller.ReplicaChange.Remove.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
                static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ReplicaChange.Remove & shardkv.controller.ReplicaChange.Remove.$Shape;
                static getTypeUrl(prefix?: string): string;
            }

            namespace Remove {
                interface $Properties {
                    id?: (number|null);
                    $unknowns?: Uint8Array[];
                }
                type $Shape = shardkv.controller.ReplicaChange.Remove.$Properties;
            }

            interface IReplace extends shardkv.controller.ReplicaChange.Replace.$Properties {
            }

            class Replace {
                constructor(p?: shardkv.controller.ReplicaChange.Replace.$Properties);
                $unknowns?: Uint8Array[];
                oldId: number;
                newId: number;
                address: string;
                static create(properties: shardkv.controller.ReplicaChange.Replace.$Shape): shardkv.controller.ReplicaChange.Replace & shardkv.controller.ReplicaChange.Replace.$Shape;
                static create(properties?: shardkv.controller.ReplicaChange.Replace.$Properties): shardkv.controller.ReplicaChange.Replace;
                static encode(m: shardkv.controller.ReplicaChange.Replace.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
                static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ReplicaChange.Replace & shardkv.controller.ReplicaChange.Replace.$Shape;
                static getTypeUrl(prefix?: string): string;
            }

            namespace Replace {
                interface $Properties {
                    oldId?: (number|null);
                    newId?: (number|null);
                    address?: (string|null);
                    $unknowns?: Uint8Array[];
                }
                type $Shape = shardkv.controller.ReplicaChange.Replace.$Properties;
            }
        }

        interface IGroupIntent extends shardkv.controller.GroupIntent.$Properties {
        }

        class GroupIntent {
            constructor(p?: shardkv.controller.GroupIntent.$Properties);
            $unknowns?: Uint8Array[];
            gid: number;
            change?: (shardkv.controller.ReplicaChange.$Properties|null);
            force: boolean;
            blocked: string;
            static create(properties: shardkv.controller.GroupIntent.$Shape): shardkv.controller.GroupIntent & shardkv.controller.GroupIntent.$Shape;
            static create(properties?: shardkv.controller.GroupIntent.$Properties): shardkv.controller.GroupIntent;
            static encode(m: shardkv.controller.GroupIntent.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.GroupIntent & shardkv.controller.GroupIntent.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace GroupIntent {
            interface $Properties {
                gid?: (number|null);
                change?: (shardkv.controller.ReplicaChange.$Properties|null);
                force?: (boolean|null);
                blocked?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              gid?: number|null;
              change?: shardkv.controller.ReplicaChange.$Shape|null;
              force?: boolean|null;
              blocked?: string|null;
              $unknowns?: Uint8Array[];
            };
        }

        interface IReplicaChangeRequest extends shardkv.controller.ReplicaChangeRequest.$Properties {
        }

        class ReplicaChangeRequest {
            constructor(p?: shardkv.controller.ReplicaChangeRequest.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.controller.RequestId.$Properties|null);
            gid: number;
            change?: (shardkv.controller.ReplicaChange.$Properties|null);
            force: boolean;
            static create(properties: shardkv.controller.ReplicaChangeRequest.$Shape): shardkv.controller.ReplicaChangeRequest & shardkv.controller.ReplicaChangeRequest.$Shape;
            static create(properties?: shardkv.controller.ReplicaChangeRequest.$Properties): shardkv.controller.ReplicaChangeRequest;
            static encode(m: shardkv.controller.ReplicaChangeRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ReplicaChangeRequest & shardkv.controller.ReplicaChangeRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ReplicaChangeRequest {
            interface $Properties {
                id?: (shardkv.controller.RequestId.$Properties|null);
                gid?: (number|null);
                change?: (shardkv.controller.ReplicaChange.$Properties|null);
                force?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              id?: shardkv.controller.RequestId.$Shape|null;
              gid?: number|null;
              change?: shardkv.controller.ReplicaChange.$Shape|null;
              force?: boolean|null;
              $unknowns?: Uint8Array[];
            };
        }

        interface IReplicaCancelRequest extends shardkv.controller.ReplicaCancelRequest.$Properties {
        }

        class ReplicaCancelRequest {
            constructor(p?: shardkv.controller.ReplicaCancelRequest.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.controller.RequestId.$Properties|null);
            gid: number;
            static create(properties: shardkv.controller.ReplicaCancelRequest.$Shape): shardkv.controller.ReplicaCancelRequest & shardkv.controller.ReplicaCancelRequest.$Shape;
            static create(properties?: shardkv.controller.ReplicaCancelRequest.$Properties): shardkv.controller.ReplicaCancelRequest;
            static encode(m: shardkv.controller.ReplicaCancelRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ReplicaCancelRequest & shardkv.controller.ReplicaCancelRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ReplicaCancelRequest {
            interface $Properties {
                id?: (shardkv.controller.RequestId.$Properties|null);
                gid?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.ReplicaCancelRequest.$Properties;
        }

        interface IReplicaDoneRequest extends shardkv.controller.ReplicaDoneRequest.$Properties {
        }

        class ReplicaDoneRequest {
            constructor(p?: shardkv.controller.ReplicaDoneRequest.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.controller.RequestId.$Properties|null);
            gid: number;
            members: shardkv.controller.Member.$Properties[];
            static create(properties: shardkv.controller.ReplicaDoneRequest.$Shape): shardkv.controller.ReplicaDoneRequest & shardkv.controller.ReplicaDoneRequest.$Shape;
            static create(properties?: shardkv.controller.ReplicaDoneRequest.$Properties): shardkv.controller.ReplicaDoneRequest;
            static encode(m: shardkv.controller.ReplicaDoneRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ReplicaDoneRequest & shardkv.controller.ReplicaDoneRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ReplicaDoneRequest {
            interface $Properties {
                id?: (shardkv.controller.RequestId.$Properties|null);
                gid?: (number|null);
                members?: (shardkv.controller.Member.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.ReplicaDoneRequest.$Properties;
        }

        interface IReplicaProgressRequest extends shardkv.controller.ReplicaProgressRequest.$Properties {
        }

        class ReplicaProgressRequest {
            constructor(p?: shardkv.controller.ReplicaProgressRequest.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.controller.RequestId.$Properties|null);
            gid: number;
            blocked: string;
            static create(properties: shardkv.controller.ReplicaProgressRequest.$Shape): shardkv.controller.ReplicaProgressRequest & shardkv.controller.ReplicaProgressRequest.$Shape;
            static create(properties?: shardkv.controller.ReplicaProgressRequest.$Properties): shardkv.controller.ReplicaProgressRequest;
            static encode(m: shardkv.controller.ReplicaProgressRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ReplicaProgressRequest & shardkv.controller.ReplicaProgressRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ReplicaProgressRequest {
            interface $Properties {
                id?: (shardkv.controller.RequestId.$Properties|null);
                gid?: (number|null);
                blocked?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.ReplicaProgressRequest.$Properties;
        }

        interface IWatchRequest extends shardkv.controller.WatchRequest.$Properties {
        }

        class WatchRequest {
            constructor(p?: shardkv.controller.WatchRequest.$Properties);
            $unknowns?: Uint8Array[];
            fromNum: number;
            static create(properties: shardkv.controller.WatchRequest.$Shape): shardkv.controller.WatchRequest & shardkv.controller.WatchRequest.$Shape;
            static create(properties?: shardkv.controller.WatchRequest.$Properties): shardkv.controller.WatchRequest;
            static encode(m: shardkv.controller.WatchRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.WatchRequest & shardkv.controller.WatchRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace WatchRequest {
            interface $Properties {
                fromNum?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.WatchRequest.$Properties;
        }

        interface IWatchIntentRequest extends shardkv.controller.WatchIntentRequest.$Properties {
        }

        class WatchIntentRequest {
            constructor(p?: shardkv.controller.WatchIntentRequest.$Properties);
            $unknowns?: Uint8Array[];
            gid: number;
            static create(properties: shardkv.controller.WatchIntentRequest.$Shape): shardkv.controller.WatchIntentRequest & shardkv.controller.WatchIntentRequest.$Shape;
            static create(properties?: shardkv.controller.WatchIntentRequest.$Properties): shardkv.controller.WatchIntentRequest;
            static encode(m: shardkv.controller.WatchIntentRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.WatchIntentRequest & shardkv.controller.WatchIntentRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace WatchIntentRequest {
            interface $Properties {
                gid?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.WatchIntentRequest.$Properties;
        }

        interface IIntentUpdate extends shardkv.controller.IntentUpdate.$Properties {
        }

        class IntentUpdate {
            constructor(p?: shardkv.controller.IntentUpdate.$Properties);
            $unknowns?: Uint8Array[];
            pending: boolean;
            intent?: (shardkv.controller.GroupIntent.$Properties|null);
            static create(properties: shardkv.controller.IntentUpdate.$Shape): shardkv.controller.IntentUpdate & shardkv.controller.IntentUpdate.$Shape;
            static create(properties?: shardkv.controller.IntentUpdate.$Properties): shardkv.controller.IntentUpdate;
            static encode(m: shardkv.controller.IntentUpdate.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.IntentUpdate & shardkv.controller.IntentUpdate.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace IntentUpdate {
            interface $Properties {
                pending?: (boolean|null);
                intent?: (shardkv.controller.GroupIntent.$Properties|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              pending?: boolean|null;
              intent?: shardkv.controller.GroupIntent.$Shape|null;
              $unknowns?: Uint8Array[];
            };
        }

        interface IStatusRequest extends shardkv.controller.StatusRequest.$Properties {
        }

        class StatusRequest {
            constructor(p?: shardkv.controller.StatusRequest.$Properties);
            $unknowns?: Uint8Array[];
            static create(properties: shardkv.controller.StatusRequest.$Shape): shardkv.controller.StatusRequest & shardkv.controller.StatusRequest.$Shape;
            static create(properties?: shardkv.controller.StatusRequest.$Properties): shardkv.controller.StatusRequest;
            static encode(m: shardkv.controller.StatusRequest.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.StatusRequest & shardkv.controller.StatusRequest.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace StatusRequest {
            interface $Properties {
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.StatusRequest.$Properties;
        }

        interface IStatusReply extends shardkv.controller.StatusReply.$Properties {
        }

        class StatusReply {
            constructor(p?: shardkv.controller.StatusReply.$Properties);
            $unknowns?: Uint8Array[];
            id: number;
            role: string;
            term: number;
            leader: number;
            leaderAddress: string;
            commitIndex: number;
            appliedIndex: number;
            latestConfigNum: number;
            shardCount: number;
            firstIndex: number;
            snapshotIndex: number;
            clusterId: string;
            leaderCommitIndex: number;
            lag: number;
            lastIndex: number;
            logEntries: number;
            logBytes: number;
            snapshotBytes: number;
            dataDirBytes: number;
            uptimeMs: number;
            version: string;
            static create(properties: shardkv.controller.StatusReply.$Shape): shardkv.controller.StatusReply & shardkv.controller.StatusReply.$Shape;
            static create(properties?: shardkv.controller.StatusReply.$Properties): shardkv.controller.StatusReply;
            static encode(m: shardkv.controller.StatusReply.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.StatusReply & shardkv.controller.StatusReply.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace StatusReply {
            interface $Properties {
                id?: (number|null);
                role?: (string|null);
                term?: (number|null);
                leader?: (number|null);
                leaderAddress?: (string|null);
                commitIndex?: (number|null);
                appliedIndex?: (number|null);
                latestConfigNum?: (number|null);
                shardCount?: (number|null);
                firstIndex?: (number|null);
                snapshotIndex?: (number|null);
                clusterId?: (string|null);
                leaderCommitIndex?: (number|null);
                lag?: (number|null);
                lastIndex?: (number|null);
                logEntries?: (number|null);
                logBytes?: (number|null);
                snapshotBytes?: (number|null);
                dataDirBytes?: (number|null);
                uptimeMs?: (number|null);
                version?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.StatusReply.$Properties;
        }

        interface ICommand extends shardkv.controller.Command.$Properties {
        }

        class Command {
            constructor(p?: shardkv.controller.Command.$Properties);
            $unknowns?: Uint8Array[];
            id?: (shardkv.controller.RequestId.$Properties|null);
            join?: (shardkv.controller.JoinRequest.$Properties|null);
            leave?: (shardkv.controller.LeaveRequest.$Properties|null);
            move?: (shardkv.controller.MoveRequest.$Properties|null);
            initCluster?: (shardkv.controller.InitCluster.$Properties|null);
            ackJoin?: (shardkv.controller.AckJoinRequest.$Properties|null);
            replicaChange?: (shardkv.controller.ReplicaChangeRequest.$Properties|null);
            replicaCancel?: (shardkv.controller.ReplicaCancelRequest.$Properties|null);
            replicaDone?: (shardkv.controller.ReplicaDoneRequest.$Properties|null);
            replicaProgress?: (shardkv.controller.ReplicaProgressRequest.$Properties|null);
            shardCount: number;
            op?: ("join"|"leave"|"move"|"initCluster"|"ackJoin"|"replicaChange"|"replicaCancel"|"replicaDone"|"replicaProgress");
            static create(properties: shardkv.controller.Command.$Shape): shardkv.controller.Command & shardkv.controller.Command.$Shape;
            static create(properties?: shardkv.controller.Command.$Properties): shardkv.controller.Command;
            static encode(m: shardkv.controller.Command.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.Command & shardkv.controller.Command.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace Command {
            interface $Properties {
                id?: (shardkv.controller.RequestId.$Properties|null);
                join?: (shardkv.controller.JoinRequest.$Properties|null);
                leave?: (shardkv.controller.LeaveRequest.$Properties|null);
                move?: (shardkv.controller.MoveRequest.$Properties|null);
                initCluster?: (shardkv.controller.InitCluster.$Properties|null);
                ackJoin?: (shardkv.controller.AckJoinRequest.$Properties|null);
                replicaChange?: (shardkv.controller.ReplicaChangeRequest.$Properties|null);
                replicaCancel?: (shardkv.controller.ReplicaCancelRequest.$Properties|null);
                replicaDone?: (shardkv.controller.ReplicaDoneRequest.$Properties|null);
                replicaProgress?: (shardkv.controller.ReplicaProgressRequest.$Properties|null);
                shardCount?: (number|null);
                op?: ("join"|"leave"|"move"|"initCluster"|"ackJoin"|"replicaChange"|"replicaCancel"|"replicaDone"|"replicaProgress");
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              id?: shardkv.controller.RequestId.$Shape|null;
              join?: shardkv.controller.JoinRequest.$Shape|null;
              leave?: shardkv.controller.LeaveRequest.$Shape|null;
              move?: shardkv.controller.MoveRequest.$Shape|null;
              initCluster?: shardkv.controller.InitCluster.$Shape|null;
              ackJoin?: shardkv.controller.AckJoinRequest.$Shape|null;
              replicaChange?: shardkv.controller.ReplicaChangeRequest.$Shape|null;
              replicaCancel?: shardkv.controller.ReplicaCancelRequest.$Shape|null;
              replicaDone?: shardkv.controller.ReplicaDoneRequest.$Shape|null;
              replicaProgress?: shardkv.controller.ReplicaProgressRequest.$Shape|null;
              shardCount?: number|null;
              $unknowns?: Uint8Array[];
            } & (
              ({ op?: undefined; join?: null; leave?: null; move?: null; initCluster?: null; ackJoin?: null; replicaChange?: null; replicaCancel?: null; replicaDone?: null; replicaProgress?: null }|{ op?: "join"; join: shardkv.controller.JoinRequest.$Shape; leave?: null; move?: null; initCluster?: null; ackJoin?: null; replicaChange?: null; replicaCancel?: null; replicaDone?: null; replicaProgress?: null }|{ op?: "leave"; join?: null; leave: shardkv.controller.LeaveRequest.$Shape; move?: null; initCluster?: null; ackJoin?: null; replicaChange?: null; replicaCancel?: null; replicaDone?: null; replicaProgress?: null }|{ op?: "move"; join?: null; leave?: null; move: shardkv.controller.MoveRequest.$Shape; initCluster?: null; ackJoin?: null; replicaChange?: null; replicaCancel?: null; replicaDone?: null; replicaProgress?: null }|{ op?: "initCluster"; join?: null; leave?: null; move?: null; initCluster: shardkv.controller.InitCluster.$Shape; ackJoin?: null; replicaChange?: null; replicaCancel?: null; replicaDone?: null; replicaProgress?: null }|{ op?: "ackJoin"; join?: null; leave?: null; move?: null; initCluster?: null; ackJoin: shardkv.controller.AckJoinRequest.$Shape; replicaChange?: null; replicaCancel?: null; replicaDone?: null; replicaProgress?: null }|{ op?: "replicaChange"; join?: null; leave?: null; move?: null; initCluster?: null; ackJoin?: null; replicaChange: shardkv.controller.ReplicaChangeRequest.$Shape; replicaCancel?: null; replicaDone?: null; replicaProgress?: null }|{ op?: "replicaCancel"; join?: null; leave?: null; move?: null; initCluster?: null; ackJoin?: null; replicaChange?: null; replicaCancel: shardkv.controller.ReplicaCancelRequest.$Shape; replicaDone?: null; replicaProgress?: null }|{ op?: "replicaDone"; join?: null; leave?: null; move?: null; initCluster?: null; ackJoin?: null; replicaChange?: null; replicaCancel?: null; replicaDone: shardkv.controller.ReplicaDoneRequest.$Shape; replicaProgress?: null }|{ op?: "replicaProgress"; join?: null; leave?: null; move?: null; initCluster?: null; ackJoin?: null; replicaChange?: null; replicaCancel?: null; replicaDone?: null; replicaProgress: shardkv.controller.ReplicaProgressRequest.$Shape })
            );
        }

        interface IInitCluster extends shardkv.controller.InitCluster.$Properties {
        }

        class InitCluster {
            constructor(p?: shardkv.controller.InitCluster.$Properties);
            $unknowns?: Uint8Array[];
            clusterId: string;
            static create(properties: shardkv.controller.InitCluster.$Shape): shardkv.controller.InitCluster & shardkv.controller.InitCluster.$Shape;
            static create(properties?: shardkv.controller.InitCluster.$Properties): shardkv.controller.InitCluster;
            static encode(m: shardkv.controller.InitCluster.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.InitCluster & shardkv.controller.InitCluster.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace InitCluster {
            interface $Properties {
                clusterId?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.InitCluster.$Properties;
        }

        interface ICommandResult extends shardkv.controller.CommandResult.$Properties {
        }

        class CommandResult {
            constructor(p?: shardkv.controller.CommandResult.$Properties);
            $unknowns?: Uint8Array[];
            configNum: number;
            errorField: string;
            errorReason: string;
            abortedNum: number;
            static create(properties: shardkv.controller.CommandResult.$Shape): shardkv.controller.CommandResult & shardkv.controller.CommandResult.$Shape;
            static create(properties?: shardkv.controller.CommandResult.$Properties): shardkv.controller.CommandResult;
            static encode(m: shardkv.controller.CommandResult.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.CommandResult & shardkv.controller.CommandResult.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace CommandResult {
            interface $Properties {
                configNum?: (number|null);
                errorField?: (string|null);
                errorReason?: (string|null);
                abortedNum?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.CommandResult.$Properties;
        }

        interface IPendingJoin extends shardkv.controller.PendingJoin.$Properties {
        }

        class PendingJoin {
            constructor(p?: shardkv.controller.PendingJoin.$Properties);
            $unknowns?: Uint8Array[];
            gid: number;
            joinNum: number;
            handed: shardkv.controller.PendingJoin.Handed.$Properties[];
            static create(properties: shardkv.controller.PendingJoin.$Shape): shardkv.controller.PendingJoin & shardkv.controller.PendingJoin.$Shape;
            static create(properties?: shardkv.controller.PendingJoin.$Properties): shardkv.controller.PendingJoin;
            static encode(m: shardkv.controller.PendingJoin.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.PendingJoin & shardkv.controller.PendingJoin.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace PendingJoin {
            interface $Properties {
                gid?: (number|null);
                joinNum?: (number|null);
                handed?: (shardkv.controller.PendingJoin.Handed.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.PendingJoin.$Properties;

            interface IHanded extends shardkv.controller.PendingJoin.Handed.$Properties {
            }

            class Handed {
                constructor(p?: shardkv.controller.PendingJoin.Handed.$Properties);
                $unknowns?: Uint8Array[];
                shard: number;
                from: number;
                static create(properties: shardkv.controller.PendingJoin.Handed.$Shape): shardkv.controller.PendingJoin.Handed & shardkv.controller.PendingJoin.Handed.$Shape;
                static create(properties?: shardkv.controller.PendingJoin.Handed.$Properties): shardkv.controller.PendingJoin.Handed;
                static encode(m: shardkv.controller.PendingJoin.Handed.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
                static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.PendingJoin.Handed & shardkv.controller.PendingJoin.Handed.$Shape;
                static getTypeUrl(prefix?: string): string;
            }

            namespace Handed {
                interface $Properties {
                    shard?: (number|null);
                    from?: (number|null);
                    $unknowns?: Uint8Array[];
                }
                type $Shape = shardkv.controller.PendingJoin.Handed.$Properties;
            }
        }

        interface IDedupEntry extends shardkv.controller.DedupEntry.$Properties {
        }

        class DedupEntry {
            constructor(p?: shardkv.controller.DedupEntry.$Properties);
            $unknowns?: Uint8Array[];
            clientId: Uint8Array;
            seq: number;
            result?: (shardkv.controller.CommandResult.$Properties|null);
            lastIndex: number;
            static create(properties: shardkv.controller.DedupEntry.$Shape): shardkv.controller.DedupEntry & shardkv.controller.DedupEntry.$Shape;
            static create(properties?: shardkv.controller.DedupEntry.$Properties): shardkv.controller.DedupEntry;
            static encode(m: shardkv.controller.DedupEntry.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.DedupEntry & shardkv.controller.DedupEntry.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace DedupEntry {
            interface $Properties {
                clientId?: (Uint8Array|null);
                seq?: (number|null);
                result?: (shardkv.controller.CommandResult.$Properties|null);
                lastIndex?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.DedupEntry.$Properties;
        }

        interface IControllerSnapshot extends shardkv.controller.ControllerSnapshot.$Properties {
        }

        class ControllerSnapshot {
            constructor(p?: shardkv.controller.ControllerSnapshot.$Properties);
            $unknowns?: Uint8Array[];
            shardCount: number;
            configs: shardkv.controller.Config.$Properties[];
            dedup: shardkv.controller.DedupEntry.$Properties[];
            clusterId: string;
            pending: shardkv.controller.PendingJoin.$Properties[];
            intents: shardkv.controller.GroupIntent.$Properties[];
            controllers: shardkv.controller.Member.$Properties[];
            static create(properties: shardkv.controller.ControllerSnapshot.$Shape): shardkv.controller.ControllerSnapshot & shardkv.controller.ControllerSnapshot.$Shape;
            static create(properties?: shardkv.controller.ControllerSnapshot.$Properties): shardkv.controller.ControllerSnapshot;
            static encode(m: shardkv.controller.ControllerSnapshot.$Properties, w?: $protobuf.Writer): $protobuf.Writer;
            static decode(r: ($protobuf.Reader|Uint8Array), l?: number): shardkv.controller.ControllerSnapshot & shardkv.controller.ControllerSnapshot.$Shape;
            static getTypeUrl(prefix?: string): string;
        }

        namespace ControllerSnapshot {
            interface $Properties {
                shardCount?: (number|null);
                configs?: (shardkv.controller.Config.$Properties[]|null);
                dedup?: (shardkv.controller.DedupEntry.$Properties[]|null);
                clusterId?: (string|null);
                pending?: (shardkv.controller.PendingJoin.$Properties[]|null);
                intents?: (shardkv.controller.GroupIntent.$Properties[]|null);
                controllers?: (shardkv.controller.Member.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              shardCount?: number|null;
              configs?: shardkv.controller.Config.$Shape[]|null;
              dedup?: shardkv.controller.DedupEntry.$Shape[]|null;
              clusterId?: string|null;
              pending?: shardkv.controller.PendingJoin.$Shape[]|null;
              intents?: shardkv.controller.GroupIntent.$Shape[]|null;
              controllers?: shardkv.controller.Member.$Shape[]|null;
              $unknowns?: Uint8Array[];
            };
        }

        class Controller extends $protobuf.rpc.Service {
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): Controller;
            join: shardkv.controller.Controller.Join;
            leave: shardkv.controller.Controller.Leave;
            move: shardkv.controller.Controller.Move;
            ackJoin: shardkv.controller.Controller.AckJoin;
            replicaChange: shardkv.controller.Controller.ReplicaChange;
            replicaCancel: shardkv.controller.Controller.ReplicaCancel;
            replicaDone: shardkv.controller.Controller.ReplicaDone;
            replicaProgress: shardkv.controller.Controller.ReplicaProgress;
            query: shardkv.controller.Controller.Query;
            watch: shardkv.controller.Controller.Watch;
            watchIntent: shardkv.controller.Controller.WatchIntent;
            status: shardkv.controller.Controller.Status;
        }

        namespace Controller {
            type JoinCallback = (error: (Error|null), response?: shardkv.controller.ChangeReply) => void;
            type Join = {
              (request: shardkv.controller.IJoinRequest, callback: shardkv.controller.Controller.JoinCallback): void;
              (request: shardkv.controller.IJoinRequest): Promise<shardkv.controller.ChangeReply>;
              readonly name: "Join";
              readonly path: "/shardkv.controller.Controller/Join";
              readonly requestType: "JoinRequest";
              readonly responseType: "ChangeReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type LeaveCallback = (error: (Error|null), response?: shardkv.controller.ChangeReply) => void;
            type Leave = {
              (request: shardkv.controller.ILeaveRequest, callback: shardkv.controller.Controller.LeaveCallback): void;
              (request: shardkv.controller.ILeaveRequest): Promise<shardkv.controller.ChangeReply>;
              readonly name: "Leave";
              readonly path: "/shardkv.controller.Controller/Leave";
              readonly requestType: "LeaveRequest";
              readonly responseType: "ChangeReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type MoveCallback = (error: (Error|null), response?: shardkv.controller.ChangeReply) => void;
            type Move = {
              (request: shardkv.controller.IMoveRequest, callback: shardkv.controller.Controller.MoveCallback): void;
              (request: shardkv.controller.IMoveRequest): Promise<shardkv.controller.ChangeReply>;
              readonly name: "Move";
              readonly path: "/shardkv.controller.Controller/Move";
              readonly requestType: "MoveRequest";
              readonly responseType: "ChangeReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type AckJoinCallback = (error: (Error|null), response?: shardkv.controller.AckJoinReply) => void;
            type AckJoin = {
              (request: shardkv.controller.IAckJoinRequest, callback: shardkv.controller.Controller.AckJoinCallback): void;
              (request: shardkv.controller.IAckJoinRequest): Promise<shardkv.controller.AckJoinReply>;
              readonly name: "AckJoin";
              readonly path: "/shardkv.controller.Controller/AckJoin";
              readonly requestType: "AckJoinRequest";
              readonly responseType: "AckJoinReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type ReplicaChangeCallback = (error: (Error|null), response?: shardkv.controller.ChangeReply) => void;
            type ReplicaChange = {
              (request: shardkv.controller.IReplicaChangeRequest, callback: shardkv.controller.Controller.ReplicaChangeCallback): void;
              (request: shardkv.controller.IReplicaChangeRequest): Promise<shardkv.controller.ChangeReply>;
              readonly name: "ReplicaChange";
              readonly path: "/shardkv.controller.Controller/ReplicaChange";
              readonly requestType: "ReplicaChangeRequest";
              readonly responseType: "ChangeReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type ReplicaCancelCallback = (error: (Error|null), response?: shardkv.controller.ChangeReply) => void;
            type ReplicaCancel = {
              (request: shardkv.controller.IReplicaCancelRequest, callback: shardkv.controller.Controller.ReplicaCancelCallback): void;
              (request: shardkv.controller.IReplicaCancelRequest): Promise<shardkv.controller.ChangeReply>;
              readonly name: "ReplicaCancel";
              readonly path: "/shardkv.controller.Controller/ReplicaCancel";
              readonly requestType: "ReplicaCancelRequest";
              readonly responseType: "ChangeReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type ReplicaDoneCallback = (error: (Error|null), response?: shardkv.controller.ChangeReply) => void;
            type ReplicaDone = {
              (request: shardkv.controller.IReplicaDoneRequest, callback: shardkv.controller.Controller.ReplicaDoneCallback): void;
              (request: shardkv.controller.IReplicaDoneRequest): Promise<shardkv.controller.ChangeReply>;
              readonly name: "ReplicaDone";
              readonly path: "/shardkv.controller.Controller/ReplicaDone";
              readonly requestType: "ReplicaDoneRequest";
              readonly responseType: "ChangeReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type ReplicaProgressCallback = (error: (Error|null), response?: shardkv.controller.ChangeReply) => void;
            type ReplicaProgress = {
              (request: shardkv.controller.IReplicaProgressRequest, callback: shardkv.controller.Controller.ReplicaProgressCallback): void;
              (request: shardkv.controller.IReplicaProgressRequest): Promise<shardkv.controller.ChangeReply>;
              readonly name: "ReplicaProgress";
              readonly path: "/shardkv.controller.Controller/ReplicaProgress";
              readonly requestType: "ReplicaProgressRequest";
              readonly responseType: "ChangeReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type QueryCallback = (error: (Error|null), response?: shardkv.controller.QueryReply) => void;
            type Query = {
              (request: shardkv.controller.IQueryRequest, callback: shardkv.controller.Controller.QueryCallback): void;
              (request: shardkv.controller.IQueryRequest): Promise<shardkv.controller.QueryReply>;
              readonly name: "Query";
              readonly path: "/shardkv.controller.Controller/Query";
              readonly requestType: "QueryRequest";
              readonly responseType: "QueryReply";
              readonly requestStream: undefined;
              readonly responseStream: undefined;
            };
            type WatchCallback = (error: (Error|null), response?: shardkv.controller.Config) => void;
            type Watch = {
              (request: shardkv.controller.IWatchRequest, callback: shardkv.controller.Controller.WatchCallback): void;
              (request: shardkv.controller.IWatchRequest): Promise<shardkv.controller.Config>;
              readonly name: "Watch";
              readonly path: "/shardkv.controller.Controller/Watch";
              readonly requestType: "WatchRequest";
              readonly responseType: "Config";
              readonly requestStream: undefined;
              readonly responseStream: true;
            };
            type WatchIntentCallback = (error: (Error|null), response?: shardkv.controller.IntentUpdate) => void;
            type WatchIntent = {
              (request: shardkv.controller.IWatchIntentRequest, callback: shardkv.controller.Controller.WatchIntentCallback): void;
              (request: shardkv.controller.IWatchIntentRequest): Promise<shardkv.controller.IntentUpdate>;
              readonly name: "WatchIntent";
              readonly path: "/shardkv.controller.Controller/WatchIntent";
              readonly requestType: "WatchIntentRequest";
              readonly responseType: "IntentUpdate";
              readonly requestStream: undefined;
              readonly responseStream: true;
            };
            type StatusCallback = (error: (Error|null), response?: shardkv.controller.StatusReply) => void;
            type Status = {
              (request: shardkv.controller.IStatusRequest, callback: shardkv.controller.Controller.StatusCallback): void;
              (request: shardkv.controller.IStatusRequest): Promise<shardkv.controller.StatusReply>;
              readonly name: "Status";
              readonly path: "/shardkv.controller.Controller/Status";
              readonly requestType: "StatusRequest";
              readonly responseType: "StatusReply";
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
