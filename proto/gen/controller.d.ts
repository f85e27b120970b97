import * as $protobuf from "protobufjs";
import Long = require("long");

export namespace shardkv {

    namespace controller {

        interface IGroup extends shardkv.controller.Group.$Properties {
        }

        class Group {
            constructor(p?: shardkv.controller.Group.$Properties);
            $unknowns?: Uint8Array[];
            gid: number;
            servers: string[];
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
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.QueryReply.$Properties;
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
            shardCount: number;
            op?: ("join"|"leave"|"move"|"initCluster"|"ackJoin");
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
                shardCount?: (number|null);
                op?: ("join"|"leave"|"move"|"initCluster"|"ackJoin");
                $unknowns?: Uint8Array[];
            }
            type $Shape = {
              id?: shardkv.controller.RequestId.$Shape|null;
              join?: shardkv.controller.JoinRequest.$Shape|null;
              leave?: shardkv.controller.LeaveRequest.$Shape|null;
              move?: shardkv.controller.MoveRequest.$Shape|null;
              initCluster?: shardkv.controller.InitCluster.$Shape|null;
              ackJoin?: shardkv.controller.AckJoinRequest.$Shape|null;
              shardCount?: number|null;
              $unknowns?: Uint8Array[];
            } & (
              ({ op?: undefined; join?: null; leave?: null; move?: null; initCluster?: null; ackJoin?: null }|{ op?: "join"; join: shardkv.controller.JoinRequest.$Shape; leave?: null; move?: null; initCluster?: null; ackJoin?: null }|{ op?: "leave"; join?: null; leave: shardkv.controller.LeaveRequest.$Shape; move?: null; initCluster?: null; ackJoin?: null }|{ op?: "move"; join?: null; leave?: null; move: shardkv.controller.MoveRequest.$Shape; initCluster?: null; ackJoin?: null }|{ op?: "initCluster"; join?: null; leave?: null; move?: null; initCluster: shardkv.controller.InitCluster.$Shape; ackJoin?: null }|{ op?: "ackJoin"; join?: null; leave?: null; move?: null; initCluster?: null; ackJoin: shardkv.controller.AckJoinRequest.$Shape })
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
                $unknowns?: Uint8Array[];
            }
            type $Shape = shardkv.controller.ControllerSnapshot.$Properties;
        }

        class Controller extends $protobuf.rpc.Service {
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): Controller;
            join: shardkv.controller.Controller.Join;
            leave: shardkv.controller.Controller.Leave;
            move: shardkv.controller.Controller.Move;
            ackJoin: shardkv.controller.Controller.AckJoin;
            query: shardkv.controller.Controller.Query;
            watch: shardkv.controller.Controller.Watch;
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
}
