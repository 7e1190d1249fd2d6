#!/usr/bin/env node
// `npm run release`: publishes the packages under packages/ that are not private, all at one version (Changesets,
// `fixed` in .changeset/config.json). In order, stopping at the first failure:
//
//   1. `changeset version`: applies the pending changesets (new version, CHANGELOG.md per package, ranges between
//      our packages); nothing happens when there are none, e.g. for the first release of 0.1.0.
//   2. `npm install --package-lock-only`: package-lock.json records the new versions.
//   3. the build, then `npm test` (skip with --skip-tests when re-running after a publish that failed half-way).
//   4. `changeset publish`: `npm publish` for each package whose version is not on the registry yet, and a git tag
//      per package. Needs `npm login` (or NPM_TOKEN in ~/.npmrc) with rights to the @collab scope.
//
// Then commit and push the version change and the tags, as printed at the end.
//
//   npm run release [-- --skip-tests]
//   npm run release -- --dry-run    (builds and lists what each tarball would hold; changes and publishes nothing)
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { publishedPackages, root } from './published-packages.mjs'

const args = new Set(process.argv.slice(2))
const dryRun = args.has('--dry-run')
const skipTests = args.has('--skip-tests')
for (const arg of args) {
  if (arg !== '--dry-run' && arg !== '--skip-tests') {
    console.error(`Unknown option ${arg}. Usage: npm run release [-- --dry-run | --skip-tests]`)
    process.exit(2)
  }
}

function run(title, command, commandArgs) {
  console.log(`\n=== ${title}: ${command} ${commandArgs.join(' ')}`)
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`\n=== ${title} failed (exit ${result.status ?? result.signal}); nothing after it was done.`)
    process.exit(result.status || 1)
  }
}

const packages = publishedPackages()
// One version for the published set: .changeset/config.json must name exactly these packages as one fixed group.
const config = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8'))
const fixed = JSON.stringify([...(config.fixed?.[0] ?? [])].sort())
const names = JSON.stringify(packages.map((pkg) => pkg.name).sort())
if (config.fixed?.length !== 1 || fixed !== names) {
  console.error(`.changeset/config.json: "fixed" must be one group of the published packages ${names}, not ${fixed}`)
  process.exit(1)
}
const filters = packages.map((pkg) => `--filter=${pkg.name}`)

if (!dryRun) {
  run('apply changesets', 'npx', ['changeset', 'version'])
  run('update package-lock.json', 'npm', ['install', '--package-lock-only', '--ignore-scripts'])
}
run('build', 'npx', ['turbo', 'run', 'build', ...filters, '--output-logs=errors-only'])
for (const pkg of packages) {
  if (!existsSync(join(pkg.dir, 'dist', 'index.js'))) {
    console.error(`${pkg.name}: ${relative(root, pkg.dir)}/dist/index.js is missing after the build`)
    process.exit(1)
  }
}
if (dryRun) {
  for (const pkg of packages) run(`pack ${pkg.name}`, 'npm', ['pack', '--dry-run', `--workspace=${pkg.name}`])
  console.log('\nDry run: nothing was versioned or published.')
  process.exit(0)
}
if (!skipTests) run('test', 'npm', ['test'])
run('publish', 'npx', ['changeset', 'publish'])

const version = publishedPackages()[0]?.version
console.log(
  [
    '',
    `Published ${packages.map((pkg) => pkg.name).join(', ')} at ${version}.`,
    'Now commit the versions and changelogs, and push them with the tags:',
    `  git add -A && git commit -m "Release ${version}" && git push --follow-tags`,
  ].join('\n'),
)
