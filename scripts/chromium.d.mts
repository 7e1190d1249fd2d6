/** Path of a Chromium for the browser tests, or undefined when none is installed. */
export function findChromium(): string | undefined
/** The flags every headless Chromium here gets (Chromium must not try to reach Google's hosts). */
export const chromiumArgs: readonly string[]
/** Anything that can run a function in a page (a Playwright or playwright-core Page). */
export interface ClockedPage {
  evaluate<R>(fn: () => R): Promise<R>
}
/** How far page B's clock is ahead of page A's, estimated NTP-style, with the estimate's uncertainty (ms). */
export function clockOffset(a: ClockedPage, b: ClockedPage): Promise<{ offset: number; uncertainty: number }>
