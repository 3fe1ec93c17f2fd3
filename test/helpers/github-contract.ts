/** Moved to testbed/ (the GitHub stand-in checks every request with it too). */
export * from '../../testbed/github-contract.js';
