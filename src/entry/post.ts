import { actionPost } from './action.js'

await actionPost()
