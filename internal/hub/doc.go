// Package hub resolves Hugging Face Hub model repositories the way
// huggingface_hub's snapshot_download does, without Python: a revision
// (branch, tag or commit) becomes a commit through the Hub's API, the commit's
// files are listed with their sizes and content digests, allow/ignore
// patterns select some of them (with huggingface_hub's fnmatch semantics),
// and each file is located at its commit-pinned resolve URL.
//
// The Hub's routes used, relative to the endpoint (HF_ENDPOINT, default
// https://huggingface.co):
//
//	GET  /api/models/{repo}/revision/{revision}        -> {"id": ..., "sha": "<40 hex>", "siblings": [...], "gated": ...}
//	GET  /api/models/{repo}/tree/{commit}?recursive=true -> [{"type": "file", "path": ..., "oid": "<40 hex>", "size": N,
//	                                                         "lfs": {"oid": "<64 hex>", "size": N, "pointerSize": N}}, ...]
//	                                                       (paged: a Link header with rel="next")
//	HEAD /{repo}/resolve/{commit}/{path}                -> 200, or a redirect (same host: the resolve cache;
//	                                                       another host: a signed CDN URL) with X-Repo-Commit,
//	                                                       X-Linked-Etag (the LFS SHA-256), X-Linked-Size, ETag
//
// Every URL is approved by the caller's URLChecker (the trust policy) before
// it is requested, redirects included. A token (HF_TOKEN or the Hub's token
// file) is sent as "Authorization: Bearer" to the endpoint's origin only and
// never follows a redirect to another host; it is never part of an error or
// a formatted value. Responses are read with size caps (see the Max*
// constants) and parsed strictly: a listing that cannot be fully parsed is an
// error, never a partial list.
//
// The package never prints and does not write outside the folders callers
// give it.
package hub
