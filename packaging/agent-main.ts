#!/usr/bin/env node
/**
 * The bundle's entry: starts the agent's command line with the words after the program's name. In a Node single
 * executable application `process.argv[1]` is the executable again (as for a script it is the script), so the words
 * start at index 2 either way.
 */
import { runAgentCli } from '../cli/bitenvoy-agent.js';

runAgentCli(process.argv.slice(2));
