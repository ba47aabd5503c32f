import { runPartOf } from '../helpers/test-group.js'

await runPartOf('core', 4, 6)
