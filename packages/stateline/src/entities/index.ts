/**
 * `stateline/entities`: one owner per key, its state in memory, every acknowledged change in the
 * Log, appends fenced by the owner's lease epoch. See docs/entities.md.
 */
export { defineEntity } from './define-entity.js';
export { createEntities, Entities } from './entities.js';
export { EntityRejectedError, EntityBusyError } from './errors.js';
export { FORWARD_HEADER } from './forward.js';
export { handleEntityCall, type EntityHttpRequest, type EntityHttpResponse } from './http.js';
export type {
  AnyEntityDefinition,
  CallOptions,
  EntitiesOptions,
  EntityContext,
  EntityDefinition,
  EntityOptions,
  ForwardOptions,
  Handler,
  LeaseRecord,
  ReadHandler,
  WriteHandler,
} from './types.js';
