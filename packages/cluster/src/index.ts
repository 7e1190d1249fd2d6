export { type Cluster, type ClusterConfig, clusterFromConfig, redactUrl } from './from-env.js'
export { RedisDocRelay, type RedisDocRelayOptions } from './redis-relay.js'
