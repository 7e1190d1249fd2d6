import { MemoryDocStore } from '../src/index.js'
import { describeDocStoreContract } from './contract.js'

describeDocStoreContract('MemoryDocStore', {
  sideRecords: true,
  create: async (options) => new MemoryDocStore(options),
})
