import { MemoryDocStore } from '../src/index.js'
import { describeDocStoreContract } from './contract.js'

describeDocStoreContract('MemoryDocStore', {
  create: async (options) => new MemoryDocStore(options),
})
