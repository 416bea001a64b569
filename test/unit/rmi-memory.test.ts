// The RMI suite on the in-process memory adapter (fast feedback; not evidence of broker behaviour).
import { rmiSuite } from '../support/rmi-suite.js'

rmiSuite('the memory adapter', 'memory://rmi-unit')
