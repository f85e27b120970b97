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
    }
}
