import { Capability, type CapabilityName } from '@collab/protocol'
import type { Access } from './auth.js'

/** Capabilities this server understands, answered to a client's `Hello` ([EX1]); read-only connections are told so. */
export function serverCapabilities(access: Access): CapabilityName[] {
  const capabilities: CapabilityName[] = [Capability.Heartbeat, Capability.SaveAck]
  if (access === 'read') capabilities.push(Capability.ReadOnly)
  return capabilities
}
