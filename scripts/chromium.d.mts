/** Path of a Chromium for the browser tests, or undefined when none is installed. */
export function findChromium(): string | undefined
