// The adapter contract against the in-process memory adapter.
import { adapterContract } from '../support/adapter-contract.js'

adapterContract('memory', () => 'memory://contract')
