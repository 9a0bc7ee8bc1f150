import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { stringify } from 'yaml';
import { OptionError, type BalancePolicy, type Replication, type StrategyName } from './cluster-options.js';

/** Options of {@link kubernetesManifests}; the defaults fit the shop image built by apps/shop/Dockerfile. */
export interface KubernetesExportOptions {
  strategy: StrategyName;
  balance: BalancePolicy;
  replication?: Replication;
  /** Name of every object and the `app` label. Default `'shop'`. */
  name?: string;
  /** Default `'stateline-shop:latest'`. */
  image?: string;
  /** Default 3. */
  replicas?: number;
  /** Port the container listens on. Default 3000. */
  port?: number;
  /** Ingress host; without it the rule matches every host. */
  host?: string;
  /** The instance's drain limit (`runInstance`'s `drainTimeout`, 10 s by default). */
  drainSeconds?: number;
  /** The instance's per-resource close limit (`closeTimeout`, 5 s by default). */
  closeSeconds?: number;
  /** Wait in `preStop` so endpoints drop the pod before SIGTERM starts the drain. Default 5. */
  preStopSeconds?: number;
  /** Secret holding `store`, `bus` and `session-keys`. Default `<name>-stateline`. */
  secretName?: string;
  /** When given, a Secret with these values is written too; otherwise it must exist already. */
  secret?: { store: string; bus: string; sessionKeys: string };
  /** Largest request body, as the gateway's `maxBodyBytes`. Default 1 MiB. */
  maxBodyBytes?: number;
  /** The affinity cookie of the Ingress. Default `'sl.route'`, the gateway's sticky cookie. */
  stickyCookie?: string;
}

/** Any object kubernetes-models builds: checked against the Kubernetes OpenAPI schema by `validate()`. */
export type KubernetesObject = Deployment | Service | Ingress | PodDisruptionBudget | Secret;

const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;

function positive(value: number | undefined, name: string, fallback: number, min = 0): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new OptionError(`${name} must be an integer >= ${min}`);
  return v;
}

/**
 * Whether a deployment needs cookie affinity at its ingress: in-memory sessions live on one
 * instance, and the sticky and hash policies route a client to the same instance on purpose.
 *
 * @example
 * ```ts
 * needsAffinity({ strategy: 'memory', balance: 'round-robin' }); // true
 * ```
 */
export function needsAffinity(o: { strategy: StrategyName; balance: BalancePolicy }): boolean {
  return o.strategy === 'memory' || o.balance === 'sticky' || o.balance === 'hash';
}

/**
 * The shop's Kubernetes objects: an optional Secret, a Deployment with `/readyz` readiness and
 * `/healthz` liveness probes and a grace period covering preStop + drain + close, a Service, a
 * PodDisruptionBudget and an ingress-nginx Ingress (cookie affinity when {@link needsAffinity}).
 *
 * @example
 * ```ts
 * const objects = kubernetesManifests({ strategy: 'server', balance: 'round-robin' });
 * for (const o of objects) o.validate(); // throws on anything the API server would refuse
 * ```
 */
export function kubernetesManifests(o: KubernetesExportOptions): KubernetesObject[] {
  const name = o.name ?? 'shop';
  if (!DNS_LABEL.test(name))
    throw new OptionError(`--name must be a DNS label (got ${JSON.stringify(name)})`);
  if (o.host !== undefined && !DNS_NAME.test(o.host))
    throw new OptionError(`--ingress-host must be a DNS name (got ${JSON.stringify(o.host)})`);
  const replicas = positive(o.replicas, '--replicas', 3, 1);
  const port = positive(o.port, '--container-port', 3000, 1);
  const drain = positive(o.drainSeconds, '--drain-seconds', 10);
  const close = positive(o.closeSeconds, '--close-seconds', 5);
  const preStop = positive(o.preStopSeconds, '--pre-stop-seconds', 5);
  const maxBody = positive(o.maxBodyBytes, '--max-body-bytes', 1_048_576, 1);
  const secretName = o.secretName ?? `${name}-stateline`;
  const labels = { app: name };
  const fromSecret = (env: string, key: string, optional = false) => ({
    name: env,
    valueFrom: { secretKeyRef: { name: secretName, key, optional } },
  });

  const objects: KubernetesObject[] = [];
  if (o.secret) {
    objects.push(
      new Secret({
        metadata: { name: secretName, labels },
        type: 'Opaque',
        stringData: { store: o.secret.store, bus: o.secret.bus, 'session-keys': o.secret.sessionKeys },
      }),
    );
  }
  const probe = (path: string, failureThreshold: number) => ({
    httpGet: { path, port: 'http' },
    periodSeconds: 5,
    timeoutSeconds: 2,
    failureThreshold,
  });
  objects.push(
    new Deployment({
      metadata: { name, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        // One pod at a time, never below the wanted count: sessions outlive each step.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels },
          spec: {
            // SIGTERM arrives after preStop; the drain and the closes must end before SIGKILL.
            terminationGracePeriodSeconds: preStop + drain + close + 2,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
            containers: [
              {
                name,
                image: o.image ?? 'stateline-shop:latest',
                ports: [{ name: 'http', containerPort: port }],
                env: [
                  { name: 'HOST', value: '0.0.0.0' },
                  { name: 'PORT', value: String(port) },
                  { name: 'STATELINE_STRATEGY', value: o.strategy },
                  { name: 'STATELINE_REPLICATION', value: o.replication ?? 'off' },
                  { name: 'STATELINE_INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  fromSecret('STATELINE_STORE', 'store'),
                  fromSecret('STATELINE_BUS', 'bus', true),
                  fromSecret('STATELINE_SESSION_KEYS', 'session-keys'),
                ],
                readinessProbe: probe('/readyz', 2),
                livenessProbe: probe('/healthz', 3),
                lifecycle: { preStop: { exec: { command: ['sleep', String(preStop)] } } },
                securityContext: { allowPrivilegeEscalation: false },
              },
            ],
          },
        },
      },
    }),
    new Service({
      metadata: { name, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    }),
    new PodDisruptionBudget({
      metadata: { name, labels },
      spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
    }),
  );
  const annotations: Record<string, string> = {
    'nginx.ingress.kubernetes.io/proxy-body-size': String(maxBody),
    // Idempotent requests only, as the gateway retries them.
    'nginx.ingress.kubernetes.io/proxy-next-upstream': 'error timeout http_503',
  };
  if (needsAffinity(o)) {
    Object.assign(annotations, {
      'nginx.ingress.kubernetes.io/affinity': 'cookie',
      'nginx.ingress.kubernetes.io/affinity-mode': 'persistent',
      'nginx.ingress.kubernetes.io/session-cookie-name': o.stickyCookie ?? 'sl.route',
      'nginx.ingress.kubernetes.io/session-cookie-path': '/',
      'nginx.ingress.kubernetes.io/session-cookie-samesite': 'Lax',
    });
  }
  objects.push(
    new Ingress({
      metadata: { name, labels, annotations },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            ...(o.host === undefined ? {} : { host: o.host }),
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend: { service: { name, port: { name: 'http' } } } },
              ],
            },
          },
        ],
      },
    }),
  );
  return objects;
}

/**
 * The manifests as one multi-document YAML stream, each object validated first.
 *
 * @example
 * ```ts
 * process.stdout.write(exportKubernetes({ strategy: 'hybrid', balance: 'sticky', host: 'shop.example.com' }));
 * ```
 */
export function exportKubernetes(o: KubernetesExportOptions): string {
  return kubernetesManifests(o)
    .map((object) => {
      object.validate();
      return stringify(object.toJSON(), { lineWidth: 0 });
    })
    .join('---\n');
}
