// Types only, with no imports: the dashboard's browser code imports them too.

/** Where an instance is in its life, as the supervisor sees its process. */
export type InstanceState = 'starting' | 'up' | 'draining' | 'down';

/** `GET /_stateline/status`. */
export interface ClusterStatus {
  balance: string;
  strategy: string;
  store: string;
  instances: {
    id: string;
    state: InstanceState;
    pid: number | null;
    inflight: number;
    served: number;
    /** Since the cluster started, over every process of this id (with `totals`; else the current process's). */
    errors: number;
    retries: number;
    websockets: number;
    url: string | null;
    restarts: number;
  }[];
}
