// Reading a Dockerfile and its ignore file the way Docker does, for scripts/check-dockerfile.mjs: instructions with
// their flags and arguments (continuations joined, comments dropped), variable substitution, exec and shell forms,
// and .dockerignore patterns (Go filepath.Match syntax plus `**`, later patterns win, `!` re-includes).

/**
 * @typedef {{ keyword: string, flags: Record<string, string>, args: string, line: number }} Instruction
 */

/** Parses Dockerfile text into instructions. */
export function parseDockerfile(text) {
  /** @type {Instruction[]} */
  const instructions = []
  const lines = text.split('\n')
  let buffer = ''
  let startLine = 0
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    // Comment lines are dropped, even between continuation lines (Docker does the same).
    if (/^\s*#/.test(line)) continue
    if (buffer === '' && line.trim() === '') continue
    if (buffer === '') startLine = i + 1
    if (/\\\s*$/.test(line)) {
      buffer += `${line.replace(/\\\s*$/, '')} `
      continue
    }
    buffer += line
    const match = /^\s*(\w+)\s*(.*)$/s.exec(buffer)
    buffer = ''
    if (!match) throw new Error(`Dockerfile line ${startLine}: cannot parse`)
    const keyword = (match[1] ?? '').toUpperCase()
    let rest = (match[2] ?? '').trim()
    const flags = {}
    // Flags come first (`COPY --from=build`, `HEALTHCHECK --interval=30s`).
    for (let flag = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest); flag; flag = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest)) {
      flags[flag[1] ?? ''] = flag[2] ?? 'true'
      rest = rest.slice(flag[0].length)
    }
    instructions.push({ keyword, flags, args: rest.trim(), line: startLine })
  }
  return instructions
}

/** Replaces `$NAME`, `${NAME}` and `${NAME:-default}` from `vars` (unknown names become empty, as in Docker). */
export function substitute(text, vars) {
  return text.replace(/\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))/g, (_, braced, fallback, bare) => {
    const name = braced ?? bare
    const value = vars[name]
    return value !== undefined && value !== '' ? value : (fallback ?? '')
  })
}

/** A JSON array argument (`["node", "cli.js"]`), or null for the shell form. */
export function execForm(args) {
  if (!args.startsWith('[')) return null
  try {
    const parsed = JSON.parse(args)
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string') ? parsed : null
  } catch {
    return null
  }
}

/** Splits on whitespace, keeping double- or single-quoted words together (quotes removed). */
export function words(text) {
  const result = []
  for (const match of text.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) {
    result.push(match[1] ?? match[2] ?? match[3] ?? '')
  }
  return result
}

/** `ENV A=1 B="two words"` (or the old `ENV A 1`) as pairs. */
export function envPairs(args) {
  const parts = words(args)
  if (parts.length === 2 && !(parts[0] ?? '').includes('=')) return [[parts[0], parts[1]]]
  return parts.map((part) => {
    const at = part.indexOf('=')
    if (at < 1) throw new Error(`cannot parse ENV/ARG entry ${JSON.stringify(part)}`)
    return [part.slice(0, at), part.slice(at + 1)]
  })
}

/** A matcher for .dockerignore text: `(relativePath) => boolean` (true when the path is excluded). */
export function dockerignoreMatcher(text) {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!')
      const pattern = (negated ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '')
      return { negated, regex: patternRegex(pattern) }
    })
  return {
    hasNegations: rules.some((rule) => rule.negated),
    excluded(path) {
      let excluded = false
      for (const rule of rules) if (rule.regex.test(path)) excluded = !rule.negated
      return excluded
    },
  }
}

function patternRegex(pattern) {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]
    if (char === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories, including none; a trailing `**` matches everything below.
      if (pattern[i + 2] === '/') {
        source += '(?:.*/)?'
        i += 2
      } else {
        source += '.*'
        i += 1
      }
    } else if (char === '*') source += '[^/]*'
    else if (char === '?') source += '[^/]'
    else source += (char ?? '').replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${source}$`)
}
