// Forwarding (reference/gofer.md §4.10): when a plugin receives a call for a class it does not
// provide, the other loaded plugins are scanned in load order and the first one P providing it
// serves the call iff the receiver may forward to P (`[main] forward` lists P or `*`) and P
// accepts from the receiver (`[main] accept` lists the receiver or `*`). The call still runs on
// the receiver's slots and latency; only P's code runs. Peers are looked up at call time, so
// plugins loaded or reloaded later are seen with their current code.
import type { Catalog } from '../rmi/catalog.js'
import { Dispatcher, type Target } from '../rmi/dispatcher.js'
import { NamespaceNotFound } from '../rmi/failure.js'

/** What forwarding needs to know of a plugin. */
export interface Peer {
  name: string
  accept: string[]
  forward: string[]
  catalog: Catalog
}

/** `*` or the name itself in a parsed `[main] accept`/`forward` list. */
export function listed(list: string[], name: string): boolean {
  return list.includes('*') || list.includes(name)
}

/** Whether `receiver` may hand a call to `provider` (both rules hold). */
export function mayForward(receiver: Peer, provider: Peer): boolean {
  return receiver.name !== provider.name && listed(receiver.forward, provider.name) && listed(provider.accept, receiver.name)
}

/** The first peer that provides `classname` and may serve it for `receiver`, or null. */
export function findProvider(receiver: Peer, peers: Peer[], classname: string): Peer | null {
  for (const peer of peers) {
    if (peer.name === receiver.name || !peer.catalog.has(classname)) continue
    // gofer takes the first provider and checks the rules on it alone: a refusing first provider
    // is not passed over for a later one.
    return mayForward(receiver, peer) ? peer : null
  }
  return null
}

/** A plugin's dispatcher: its own catalog first, then what the forwarding rules allow. */
export class ForwardingDispatcher extends Dispatcher {
  constructor(private readonly receiver: Peer, private readonly peers: () => Peer[]) {
    super([{ module: receiver.name, catalog: receiver.catalog }])
  }

  override provides(classname: string): boolean {
    return super.provides(classname) || findProvider(this.receiver, this.peers(), classname) !== null
  }

  override find(classname: string, method: string): Target {
    try {
      return super.find(classname, method)
    } catch (error) {
      if (!(error instanceof NamespaceNotFound)) throw error
      const provider = findProvider(this.receiver, this.peers(), classname)
      if (!provider) throw error
      return new Dispatcher([{ module: provider.name, catalog: provider.catalog }]).find(classname, method)
    }
  }
}
