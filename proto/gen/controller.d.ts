import * as $protobuf from "protobufjs";
import Long = require("long");

export namespace shardkv {

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
}
