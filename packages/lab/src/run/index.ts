/**
 * `stateline lab`: measures session strategies on a real local cluster under load and faults.
 *
 * @example
 * ```ts
 * import { runLab, parseConfigs, validateReport } from '@stateline/lab';
 * const report = await runLab({ configs: parseConfigs('server/sqlite,token'), durationMs: 20_000 });
 * validateReport(report); // []
 * ```
 * @module
 */
export {
  ALL_CONFIGS,
  LAB_STORES,
  parseConfig,
  parseConfigs,
  type LabConfig,
  type LabStore,
} from './config.js';
export {
  FAULT_KINDS,
  LAB_DEFAULTS,
  parseDuration,
  LAB_NETWORKS,
  parseFaults,
  parseNetwork,
  parsePostgresUrl,
  parseSeed,
  parseUsers,
  type FaultKind,
  type LabNetwork,
  type LabOptions,
} from './options.js';
export { runLab, writeReport, type RunLabOptions } from './run-lab.js';
export { LATENCY_FAULT, runConfig, type RunConfigOptions, type RunProgress } from './run-config.js';
export { REPORT_SCHEMA, type FaultRecord, type LabReport, type RunReport } from './report.js';
export { validateReport } from './report-schema.js';
export { findings, type Finding } from './findings.js';
export { reportMarkdown } from './report-md.js';
export { reportHtml } from './report-html.js';
export { textTable, markdownTable } from './table.js';
export { recoveryMs, type TimelinePoint } from './recorder.js';
export { auditCreates, countDuplicates, type AuditResult, type ListedOrder } from './audit.js';
export { VirtualUser, type VirtualUserOptions } from './virtual-user.js';
export { HttpClient, problemCode, type HttpClientOptions } from './http-client.js';
export { loadWorkload } from './workload-module.js';
export { mulberry32, type Random } from './prng.js';
export { APP_ENV, resolveApp, type ResolveAppOptions } from './app-module.js';
