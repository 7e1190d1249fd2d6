import { Capability, type CapabilityName } from '@collab/protocol'
import type { Access } from './auth.js'

/** Capabilities this server understands, answered to a client's `Hello` ([EX1]); read-only connections are told so. */
export function serverCapabilities(access: Access): CapabilityName[] {
  // `incarnation` tells a client that keeps a copy that the incarnation message will come ([IN1]).
  const capabilities: CapabilityName[] = [Capability.Heartbeat, Capability.SaveAck, Capability.Incarnation]
  if (access === 'read') capabilities.push(Capability.ReadOnly)
  return capabilities
}
