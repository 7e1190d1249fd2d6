export { awarenessJsonBounds, type JsonBounds, parseBoundedJson } from './bounded-json.js'
export { CloseCode, type CloseCodeValue, isTerminalCloseCode } from './close-codes.js'
export { type DecodeLimits, decodeAwarenessEntries, decodeMessage } from './decode.js'
export { docNameError, maxDocNameBytes } from './doc-name.js'
export {
  encodeAuthDenied,
  encodeAwareness,
  encodeAwarenessEntries,
  encodeCollab,
  encodeHello,
  encodeIncarnation,
  encodePing,
  encodePong,
  encodeQueryAwareness,
  encodeSaved,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from './encode.js'
export { decodeFrames, encodeFrames, type FramesResult } from './frames.js'
export { Capability, type CapabilityName, MessageType, SyncMessageType } from './message-types.js'
export type { AwarenessEntry, DecodeResult, Message } from './messages.js'
