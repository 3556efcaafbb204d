package driver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// writeFileAtomic replaces path with data so that a reader (dnsmasq on
// SIGHUP) sees the old or the new content, never a mix: a temporary file in
// the same directory, renamed over. On any error the old file is left as it
// was. The file is not fsynced (neutron does not either): every file of a
// network is rendered and written again before its dnsmasq is started, so
// nothing is lost with a crash, and a sync per file made every reload wait
// for the disk.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// fileContent is a file to write.
type fileContent struct {
	path string
	data []byte
}

// writeFilesAtomic writes each file atomically (writeFileAtomic), all at
// once so that their syncs overlap; it returns when all are done. On an
// error some files may be new and others old, each whole.
func writeFilesAtomic(files []fileContent, perm os.FileMode) error {
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = writeFileAtomic(f.path, f.data, perm)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readFileIfExists returns the file's content, or nil if it does not exist.
func readFileIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
