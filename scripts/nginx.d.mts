/** Path of an nginx binary for the browser tests, or undefined when none is installed. */
export function findNginx(): string | undefined
