package hubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

func unescape(s string) string {
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return u
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	s.record("hub", r)
	seg := segments(r.URL.EscapedPath())
	switch {
	case len(seg) == 6 && seg[0] == "api" && seg[1] == "models" && seg[4] == "revision":
		s.serveInfo(w, r, seg[2]+"/"+seg[3], seg[5])
	case len(seg) == 6 && seg[0] == "api" && seg[1] == "models" && seg[4] == "tree":
		s.serveTree(w, r, seg[2]+"/"+seg[3], seg[5])
	case len(seg) >= 7 && seg[0] == "api" && seg[1] == "resolve-cache" && seg[2] == "models":
		s.serveFile(w, r, seg[3]+"/"+seg[4], seg[5], strings.Join(seg[6:], "/"), true)
	case len(seg) >= 5 && seg[2] == "resolve":
		s.serveFile(w, r, seg[0]+"/"+seg[1], seg[3], strings.Join(seg[4:], "/"), false)
	default:
		http.NotFound(w, r)
	}
}

// serveInfo answers GET /api/models/{repo}/revision/{rev} as the Hub does
// (a subset of its members; clients ignore the others).
func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request, repoID, rev string) {
	rp, commit, files := s.lookup(repoID, rev)
	switch {
	case rp == nil:
		hubError(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		return
	case files == nil:
		hubError(w, http.StatusNotFound, "RevisionNotFound", fmt.Sprintf("Invalid rev id: %s", rev))
		return
	}
	type sibling struct {
		RFilename string `json:"rfilename"`
	}
	var gated any = false
	if rp.gated {
		gated = "manual"
	}
	owner, _, _ := strings.Cut(repoID, "/")
	info := map[string]any{
		"_id": "6650c0ffee0123456789abcd", "id": repoID, "modelId": repoID, "author": owner,
		"sha": commit, "lastModified": "2024-06-01T12:00:00.000Z", "private": false, "disabled": false,
		"gated": gated, "downloads": 1234, "likes": 5, "library_name": "coqui", "tags": []string{"coqui", "text-to-speech"},
		"pipeline_tag": "text-to-speech", "createdAt": "2023-11-01T12:00:00.000Z", "spaces": []string{},
	}
	var sib []sibling
	for _, p := range sortedPaths(files) {
		sib = append(sib, sibling{p})
	}
	info["siblings"] = sib
	writeJSON(w, info)
}

// serveTree answers GET /api/models/{repo}/tree/{rev}?recursive=true with
// pages of PageSize entries and a Link rel="next" header.
func (s *Server) serveTree(w http.ResponseWriter, r *http.Request, repoID, rev string) {
	rp, _, files := s.lookup(repoID, rev)
	switch {
	case rp == nil:
		hubError(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		return
	case files == nil:
		hubError(w, http.StatusNotFound, "RevisionNotFound", fmt.Sprintf("Invalid rev id: %s", rev))
		return
	case r.URL.Query().Get("recursive") != "true":
		hubError(w, http.StatusBadRequest, "", "this fake lists recursively only")
		return
	}
	// Every file and every folder above one, as the recursive listing has them.
	type entry map[string]any
	var all []entry
	dirs := map[string]bool{}
	for _, p := range sortedPaths(files) {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				all = append(all, entry{"type": "directory", "oid": BlobID([]byte(d)), "size": 0, "path": d})
			}
		}
		b := files[p]
		e := entry{"type": "file", "oid": BlobID(b), "size": len(b), "path": p}
		if IsLFS(p) {
			e["lfs"] = map[string]any{"oid": sha256Hex(b), "size": len(b), "pointerSize": 134}
			e["xetHash"] = sha256Hex(append([]byte("xet"), b...))
		}
		all = append(all, e)
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	to := min(from+s.PageSize, len(all))
	if from > len(all) {
		from = len(all)
	}
	if to < len(all) {
		next := *r.URL
		q := next.Query()
		q.Set("cursor", strconv.Itoa(to))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s%s>; rel=\"next\"", s.Hub.URL, next.RequestURI()))
	}
	writeJSON(w, all[from:to])
}

// serveFile answers the resolve endpoint (cache=false) and the resolve
// cache (cache=true) for HEAD and GET.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, repoID, rev, filePath string, cache bool) {
	rp, commit, files := s.lookup(repoID, rev)
	switch {
	case rp == nil:
		hubError(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		return
	case files == nil:
		hubError(w, http.StatusNotFound, "RevisionNotFound", fmt.Sprintf("Invalid rev id: %s", rev))
		return
	case rp.gated && r.Header.Get("Authorization") == "":
		hubError(w, http.StatusUnauthorized, "GatedRepo", fmt.Sprintf("Access to model %s is restricted. You must have access to it and be authenticated to access it. Please log in.", repoID))
		return
	case rp.gated && r.Header.Get("Authorization") != "Bearer "+Token:
		hubError(w, http.StatusForbidden, "GatedRepo", fmt.Sprintf("Access to model %s is restricted and you are not in the authorized list.", repoID))
		return
	}
	b, ok := files[filePath]
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", fmt.Sprintf("%s does not exist on %q", filePath, rev))
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	w.Header().Set("Accept-Ranges", "bytes")
	s.mu.Lock()
	bad := s.badETag[filePath]
	s.mu.Unlock()
	if IsLFS(filePath) && !cache {
		sum := sha256Hex(b)
		if bad != "" {
			sum = bad
		}
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
		w.Header().Set("ETag", `"`+BlobID(b)+`"`)
		w.Header().Set("Location", fmt.Sprintf("%s/xet-bridge-us/%s?X-Amz-Signature=%s&X-Amz-Expires=3600", s.CDN.URL, sha256Hex(b), "5ec7e7"))
		w.WriteHeader(http.StatusFound)
		return
	}
	etag := BlobID(b)
	if bad != "" {
		etag = bad
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	if !cache {
		esc := strings.Split(filePath, "/")
		for i, p := range esc {
			esc[i] = url.PathEscape(p)
		}
		q := url.Values{"/" + repoID + "/resolve/" + rev + "/" + filePath: {""}, "etag": {`"` + etag + `"`}}
		w.Header().Set("Location", fmt.Sprintf("/api/resolve-cache/models/%s/%s/%s?%s", repoID, commit, strings.Join(esc, "/"), q.Encode()))
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	ct := "application/octet-stream"
	if path.Ext(filePath) == ".json" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method == http.MethodGet {
		w.Write(b)
	}
}

// serveCDN serves LFS blobs by SHA-256 at /xet-bridge-us/{sha256}?signature.
func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	s.record("cdn", r)
	sum := strings.TrimPrefix(r.URL.Path, "/xet-bridge-us/")
	s.mu.Lock()
	b, ok := s.blobs[sum]
	if c, bad := s.corrupt[sum]; bad {
		b = c
	}
	s.mu.Unlock()
	if !ok || r.URL.Query().Get("X-Amz-Signature") == "" {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+sum+`"`)
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(b)))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}
