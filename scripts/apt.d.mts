/** Whether this process may install Debian packages itself (CI runs as root on Debian). */
export function canAptInstall(): boolean
/**
 * Installs Debian packages, running `apt-get update` once per process when the first attempt fails. Whether they
 * were installed.
 */
export function aptInstall(packages: readonly string[]): boolean
