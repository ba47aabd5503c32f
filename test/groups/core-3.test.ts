import { runPartOf } from '../helpers/test-group.js'

await runPartOf('core', 3, 6)
