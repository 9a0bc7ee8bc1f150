// Types only, with no imports: the dashboard's browser code imports them too.

/** Where an instance is in its life, as the supervisor sees its process. */
export type InstanceState = 'starting' | 'up' | 'draining' | 'down';

/** `GET /_stateline/status`. */
export interface ClusterStatus {
  /** The lab process's clock (ms since the epoch) when the status was read. */
  time: number;
  balance: string;
  strategy: string;
  store: string;
  instances: {
    id: string;
    state: InstanceState;
    pid: number | null;
    inflight: number;
    served: number;
    /** Since the cluster started, over every process of this id (with `counts`; else the current process's). */
    errors: number;
    retries: number;
    websockets: number;
    url: string | null;
    restarts: number;
  }[];
  /** Process events of the last 60 s, oldest first (empty without a history). */
  events: ClusterEvent[];
}

/** An instance's process went away (`down`: killed, stopped, crashed) or came back (`up`). */
export interface ClusterEvent {
  /** ms since the epoch (the lab process's clock). */
  t: number;
  id: string;
  kind: 'down' | 'up';
  /** One line, e.g. `i2 was killed (SIGKILL)`, `i2 restarted (pid 4242)`. */
  text: string;
}

/** Every instance's cumulative served and error counts at one moment. */
export interface HistorySample {
  t: number;
  served: Record<string, number>;
  errors: Record<string, number>;
}

/** `GET /_stateline/history`: the last 60 s of samples and events, oldest first. */
export interface ClusterHistoryDoc {
  samples: HistorySample[];
  events: ClusterEvent[];
}
