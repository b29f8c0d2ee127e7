// Package doclinks holds the test that keeps README.md's and docs/'s
// relative links and anchors true while text moves between them.
package doclinks
