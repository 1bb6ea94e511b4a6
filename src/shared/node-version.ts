/** The running Node's version, as numbers: what devhot's choices by Node version read. */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);

export const NODE_MAJOR = major;
export const NODE_MINOR = minor;
