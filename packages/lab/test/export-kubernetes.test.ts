/**
 * `stateline export kubernetes`: the manifests parse, every object passes the Kubernetes OpenAPI
 * schema (kubernetes-models' validators, generated from the API server's OpenAPI document), and
 * carry what a rolling deploy of the shop relies on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { main } from '../src/cli.js';
import { kubernetesManifests, type KubernetesObject } from '../src/export-kubernetes.js';

const MODELS = { Deployment, Service, Ingress, PodDisruptionBudget, Secret } as const;

async function exportYaml(...flags: string[]) {
  let out = '';
  let err = '';
  const code = await main(['export', 'kubernetes', ...flags], {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
  });
  return { code, out, err };
}

/** Parses the stream and rebuilds each document as its model, so validation sees the printed text. */
function parse(text: string): KubernetesObject[] {
  return parseAllDocuments(text).map((doc) => {
    const json = doc.toJS() as { kind: keyof typeof MODELS };
    const Model = MODELS[json.kind];
    assert.ok(Model, `unexpected kind ${json.kind}`);
    const object = new Model(json as never);
    object.validate();
    return object;
  });
}

function annotation(o: KubernetesObject, name: string): string | undefined {
  return o.metadata?.annotations?.[`nginx.ingress.kubernetes.io/${name}`];
}

describe('stateline export kubernetes', () => {
  it('writes a Deployment, Service, PodDisruptionBudget and Ingress that validate against the schema', async () => {
    const { code, out, err } = await exportYaml('--strategy', 'server', '--replicas', '4');
    assert.equal(code, 0, err);
    const docs = parse(out);
    assert.deepEqual(
      docs.map((d) => d.kind),
      ['Deployment', 'Service', 'PodDisruptionBudget', 'Ingress'],
    );
    const [deployment, service, pdb, ingress] = docs as [Deployment, Service, PodDisruptionBudget, Ingress];
    assert.equal(deployment.spec!.replicas, 4);
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    assert.equal(container.readinessProbe!.httpGet!.path, '/readyz');
    assert.equal(container.livenessProbe!.httpGet!.path, '/healthz');
    // preStop 5 s + drain 10 s + close 5 s, and 2 s to spare before SIGKILL.
    assert.deepEqual(container.lifecycle!.preStop!.exec!.command, ['sleep', '5']);
    assert.equal(pod.terminationGracePeriodSeconds, 22);
    assert.equal(pod.securityContext!.runAsNonRoot, true);
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e]));
    assert.deepEqual(env.STATELINE_STORE!.valueFrom!.secretKeyRef, {
      name: 'shop-stateline',
      key: 'store',
      optional: false,
    });
    assert.equal(env.STATELINE_SESSION_KEYS!.valueFrom!.secretKeyRef!.key, 'session-keys');
    assert.equal(env.STATELINE_STRATEGY!.value, 'server');
    assert.deepEqual(service.spec!.selector, { app: 'shop' });
    assert.equal(pdb.spec!.maxUnavailable, 1);
    assert.equal(annotation(ingress, 'affinity'), undefined);
    assert.equal(ingress.spec!.rules![0]!.http!.paths[0]!.backend.service!.name, 'shop');
  });

  it('asks ingress-nginx for cookie affinity when the strategy or the policy routes by client', async () => {
    for (const flags of [
      ['--strategy', 'memory', '--replication', 'backup'],
      ['--strategy', 'server', '--balance', 'sticky'],
    ]) {
      const { code, out } = await exportYaml(...flags, '--ingress-host', 'shop.example.com');
      assert.equal(code, 0);
      const ingress = parse(out).find((d): d is Ingress => d.kind === 'Ingress')!;
      assert.equal(annotation(ingress, 'affinity'), 'cookie', flags.join(' '));
      assert.equal(annotation(ingress, 'session-cookie-name'), 'sl.route');
      assert.equal(ingress.spec!.rules![0]!.host, 'shop.example.com');
    }
  });

  it('writes the Secret with --store, the Bus defaulting to the same server', async () => {
    const { code, out } = await exportYaml('--store', 'redis://redis.default.svc:6379');
    assert.equal(code, 0);
    const secret = parse(out)[0] as Secret;
    assert.equal(secret.kind, 'Secret');
    assert.equal(secret.stringData!.store, 'redis://redis.default.svc:6379');
    assert.equal(secret.stringData!.bus, 'redis://redis.default.svc:6379');
    assert.ok(secret.stringData!['session-keys']!.length >= 43);
  });

  it('the schema check refuses what the API server would refuse', () => {
    const [deployment] = kubernetesManifests({ strategy: 'server', balance: 'round-robin' }) as [Deployment];
    (deployment.spec!.template.spec!.containers[0] as { ports: unknown }).ports = [{ containerPort: 'http' }];
    assert.throws(() => deployment.validate());
  });

  it('refuses an ingress host that is not a DNS name in one line, exit 2', async () => {
    const { code, err } = await exportYaml('--ingress-host', 'Not A Host');
    assert.equal(code, 2);
    assert.match(err, /^stateline: --ingress-host must be a DNS name/);
    assert.equal(err.trim().split('\n').length, 1);
  });
});
