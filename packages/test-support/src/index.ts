export { type ServerProcess, type ServerProcessOptions, serverCli, startServerProcess } from './server-process.js'
export { TcpProxy } from './tcp-proxy.js'
export { type EditingTrace, loadTrace, replayTrace, traceDirs, utf16Index } from './traces.js'
export { waitFor } from './wait-for.js'
