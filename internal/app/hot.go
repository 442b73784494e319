package app

// hotObjectBytes is the memory a node gives to copies of the cached
// captures it served last (see blob.Hot): 64 MiB holds about three
// thousand 21 KB screenshots, or the eight hottest of 1 MiB.
const hotObjectBytes = 64 << 20
