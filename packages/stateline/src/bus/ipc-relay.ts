// PLACEHOLDER: being written; replaced before this lands.
export interface IpcRelay { close(): void }
export function attachIpcRelay(): IpcRelay { throw new Error('not yet written'); }
