// The plugin report shown by `Admin.help` and `gofer mgt -s` (reference/gofer.md §5.3): plugins,
// their classes with methods and their functions, each with its signature, then actions.
// Signatures are JavaScript's, so methods show no `self`. Actions are named like RMI targets
// (`Class.method`, `<plugin>.<function>`) with their interval as gofer's timedelta text.
import { signature } from '../rmi/signature.js'
import type { Plugin } from './plugin.js'
import { isExternal } from './external/namespace.js'
import { externalReport } from './external/report.js'

export function report(plugins: Plugin[]): string {
  const lines: string[] = ['Plugins:']
  for (const plugin of plugins) {
    if (!plugin.descriptor.enabled) continue
    lines.push('', `  <plugin> ${plugin.name}`)
    const namespaces = [...plugin.catalog.values()]
    const classes = namespaces.filter(n => n.kind === 'class').sort((a, b) => a.name.localeCompare(b.name))
    // External agents are listed with their DDL below, not as functions.
    const modules = namespaces.filter(n => n.kind === 'module' && !isExternal(n))
    lines.push('    Classes:')
    for (const ns of classes) {
      lines.push(`      <class> ${ns.name}`, '        Methods:')
      for (const m of [...ns.members.values()].sort((a, b) => a.name.localeCompare(b.name))) {
        lines.push(`          ${signature(m.name, m.params)}`)
      }
    }
    lines.push('    Functions:')
    for (const ns of modules) {
      for (const m of [...ns.members.values()].sort((a, b) => a.name.localeCompare(b.name))) {
        lines.push(`      ${signature(m.name, m.params)}`)
      }
    }
    if (plugin.external) lines.push(...externalReport(plugin.external))
  }
  lines.push('', 'Actions:')
  // Every plugin's actions (gofer listed only the last loaded plugin's), sorted across plugins.
  const actions = plugins.filter(p => p.descriptor.enabled).flatMap(p => p.actions?.lines() ?? [])
  for (const line of actions.sort()) lines.push(`  ${line}`)
  return lines.join('\n')
}
