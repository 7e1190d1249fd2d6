export { freePort } from './free-port.js'
export { HttpProxy, type UpgradePolicy } from './http-proxy.js'
export { listeningUrl } from './listening.js'
export {
  type AttachableServer,
  type LoopbackServer,
  type LoopbackServerOptions,
  listenOnLoopback,
} from './loopback-server.js'
export { createRandom } from './random.js'
export { type ServerProcess, type ServerProcessOptions, serverCli, startServerProcess } from './server-process.js'
export { type BlackholeOptions, type LinkConditions, TcpProxy } from './tcp-proxy.js'
export { Teardown } from './teardown.js'
export { type EditingTrace, loadTrace, replayTrace, traceDirs, utf16Index } from './traces.js'
export { deleteSetUpdate } from './updates.js'
export { waitFor } from './wait-for.js'
