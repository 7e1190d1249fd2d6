export {
  type CompactionPolicy,
  type DocInfo,
  type DocStore,
  DocumentUnreadableError,
  defaultCompactionPolicy,
  type SideWrite,
  type StoreLogger,
} from './doc-store.js'
export { LevelDocStore, type LevelDocStoreOptions } from './level-doc-store.js'
export { MemoryDocStore, type MemoryDocStoreOptions } from './memory-doc-store.js'
export { mergeUpdatesViaDoc } from './merge.js'
export { PostgresDocStore, type PostgresDocStoreOptions } from './postgres-doc-store.js'
