export { clientIdForSecret, isSecret, newSecret } from './client-id.js'
export { lightColor } from './color.js'
export { changesBetween, rebaseOnto } from './diff.js'
export { type OtEntry, OtLog, type OtLogOptions } from './log.js'
export {
  encodeMessage,
  type OtClientMessage,
  type OtEntryJSON,
  type OtPeer,
  type OtServerMessage,
  otLimits,
  type Parsed,
  parseClientMessage,
  parseServerMessage,
} from './messages.js'
export { textOf } from './text.js'
export { type Checked, checkPushedChanges, splitsSurrogatePair } from './validate.js'
export { applyChangesToYText, deltaToChanges, reconcileWithYText, type TextDeltaOp } from './ytext-bridge.js'
