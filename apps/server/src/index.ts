export { type ConfigResult, helpText, loadConfig, type ServerConfig } from './config.js'
export { type RunningServer, type StartOptions, startServer } from './main.js'
export { missingNodeFlags, serverNodeFlags } from './node-flags.js'
