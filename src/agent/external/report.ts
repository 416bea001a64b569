// The external agents part of the plugin report (`Admin.help`, `gofer mgt -s`): each active agent
// with its actions and their inputs from the DDL, then the agents that were not activated and
// the DDLs that were refused, each with the reason, so a missing agent explains itself.
import type { InputSpec } from './ddl.js'
import type { ExternalAgents } from './discover.js'

/** `message: string [shellsafe, maxlength 1024]`, `seconds?: integer = 1`, `mode?: list (quiet|noisy)`. */
export function describeInput(name: string, spec: InputSpec): string {
  const rules: string[] = []
  if (spec.validation && spec.maxlength > 0) rules.push(spec.validation)
  if (spec.maxlength > 0) rules.push(`maxlength ${spec.maxlength}`)
  const list = spec.list ? ` (${spec.list.join('|')})` : ''
  const fallback = spec.default !== undefined && spec.default !== null ? ` = ${JSON.stringify(spec.default)}` : ''
  return `${name}${spec.optional ? '?' : ''}: ${spec.type}${list}${rules.length ? ` [${rules.join(', ')}]` : ''}${fallback}`
}

/** Report lines, indented to sit under a plugin. */
export function externalReport(agents: ExternalAgents): string[] {
  const lines = ['    External agents:']
  for (const agent of agents.active) {
    const ddl = agent.ddl
    lines.push(`      <agent> ${ddl.name} ${ddl.version} (timeout ${ddl.timeout} s): ${ddl.description}`, '        Actions:')
    for (const action of [...ddl.actions.values()].sort((a, b) => (a.action < b.action ? -1 : 1))) {
      const inputs = [...action.input.entries()].map(([name, spec]) => describeInput(name, spec))
      lines.push(`          ${action.action}(${inputs.join(', ')})`)
    }
  }
  if (agents.declined.length > 0) {
    lines.push('      Not activated:')
    for (const d of agents.declined) {
      // A new version that declined leaves the old one serving (as in Choria): say which.
      const serving = agents.active.find(a => a.name === d.name)
      lines.push(`        ${d.name}: ${d.reason}${serving ? ` (version ${d.version}); still serving version ${serving.ddl.version}` : ''}`)
    }
  }
  if (agents.refused.length > 0) {
    lines.push('      Refused:')
    for (const r of agents.refused) lines.push(`        ${r.reason}`)
  }
  return lines
}
