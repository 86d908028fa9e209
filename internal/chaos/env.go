package chaos

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and drop the run's database

	"github.com/parleychat/parley/internal/blob/s3"
)

// MaxDevices is the nodes' --max-devices: the workload's logins pass it
// now and then, and the server signs the oldest session out.
const MaxDevices = 3

// Env is what a run starts: the nodes, a proxy in front of each for the
// clients, and in a cluster PostgreSQL (reached through a proxy), a Redis
// and an S3 server of its own.
type Env struct {
	Nodes []*Node
	Front []*Proxy // Front[i] is node i's address for clients

	PG    *Proxy       // nil when embedded
	Redis *redisServer // nil when embedded
	S3    *s3Server    // nil when embedded

	dropDB func()
}

// EnvConfig says what to start.
type EnvConfig struct {
	Bin       string // the parley binary
	Dir       string // logs, data dirs, S3's files
	Nodes     int    // 1 and no Postgres: embedded
	Postgres  string // an admin URL of a server the run may create a database on ("" : embedded)
	Retention time.Duration
	GroupSize int
	// Extra are more flags for every node.
	Extra []string
}

// StartEnv starts everything cfg names, each ready before it returns.
func StartEnv(ctx context.Context, cfg EnvConfig) (_ *Env, err error) {
	e := &Env{}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	var common []string
	var env []string
	cluster := cfg.Postgres != ""
	if cluster {
		dbURL, drop, err := createDatabase(ctx, cfg.Postgres)
		if err != nil {
			return nil, err
		}
		e.dropDB = drop
		host := hostOf(dbURL)
		if e.PG, err = NewProxy(host); err != nil {
			return nil, err
		}
		if e.Redis, err = newRedis(filepath.Join(cfg.Dir, "redis")); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(cfg.Dir, "redis"), 0o755); err != nil {
			return nil, err
		}
		if err := e.Redis.Start(ctx); err != nil {
			return nil, err
		}
		if e.S3, err = newS3(cfg.Dir); err != nil {
			return nil, err
		}
		if err := e.S3.Start(ctx); err != nil {
			return nil, err
		}
		bucket := "parley-chaos"
		s3cfg := s3.Config{Endpoint: e.S3.Addr, Bucket: bucket, Region: "us-east-1", AccessKey: e.S3.AccessKey, SecretKey: e.S3.SecretKey}
		st, err := s3.New(s3cfg)
		if err != nil {
			return nil, err
		}
		if err := st.EnsureBucket(ctx); err != nil {
			return nil, fmt.Errorf("create bucket: %w", err)
		}
		common = append(common,
			"--store", strings.Replace(dbURL, host, e.PG.Addr(), 1),
			"--redis", "redis://"+e.Redis.Addr+"/0",
			"--blob", fmt.Sprintf("s3://%s?endpoint=%s&region=us-east-1&secure=false", bucket, e.S3.Addr))
		env = append(env, "PARLEY_S3_ACCESS_KEY="+e.S3.AccessKey, "PARLEY_S3_SECRET_KEY="+e.S3.SecretKey)
	}
	common = append(common,
		"--retention", cfg.Retention.String(),
		"--cleanup-interval", "2s",
		"--max-group-size", strconv.Itoa(cfg.GroupSize),
		"--debug-clock",
		// Every simulated user comes from 127.0.0.1: the per-address
		// abuse limits would refuse the run itself.
		"--auth-rate-limit", "0",
		"--max-conns-per-ip", "0",
		// Few devices per user, so that new logins sign old sessions out.
		"--max-devices", strconv.Itoa(MaxDevices),
	)
	common = append(common, cfg.Extra...)
	for i := range cfg.Nodes {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(cfg.Dir, fmt.Sprintf("node%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		n := &Node{Index: i, Addr: addr}
		p, err := NewProxy(addr)
		if err != nil {
			return nil, err
		}
		e.Front = append(e.Front, p)
		// Clients reach the node through its proxy, so that is the
		// address its media URLs must name.
		args := append([]string{"serve", "--addr", addr, "--data-dir", dir, "--public-url", "http://" + p.Addr()}, common...)
		if cluster {
			args = append(args, "--node-id", fmt.Sprintf("chaos-%d", i))
		}
		n.proc = proc{name: fmt.Sprintf("node %d", i), bin: cfg.Bin, env: env,
			log: filepath.Join(cfg.Dir, fmt.Sprintf("node%d.log", i)),
			args: func() []string {
				return append(slices.Clip(args), "--debug-clock-offset", n.Offset().String())
			}}
		e.Nodes = append(e.Nodes, n)
		if err := n.Start(ctx); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Close stops everything, nodes first.
func (e *Env) Close() {
	for _, p := range e.Front {
		p.Close()
	}
	for _, n := range e.Nodes {
		n.stop()
	}
	if e.PG != nil {
		e.PG.Close()
	}
	if e.Redis != nil {
		e.Redis.stop()
	}
	if e.S3 != nil {
		e.S3.stop()
	}
	if e.dropDB != nil {
		e.dropDB()
	}
}

func createDatabase(ctx context.Context, admin string) (url string, drop func(), err error) {
	db, err := sql.Open("pgx", admin)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", admin, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "parley_chaos_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop = func() {
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		db.Close()
	}
	i := strings.LastIndex(admin, "/")
	q := strings.Index(admin[i:], "?")
	if i < 0 || strings.HasPrefix(admin[i:], "//") {
		drop()
		return "", nil, errors.New("the PostgreSQL URL needs a database path (postgres://user@host:port/db)")
	}
	if q < 0 {
		return admin[:i+1] + name, drop, nil
	}
	return admin[:i+1] + name + admin[i+q:], drop, nil
}

// hostOf returns host:port of a postgres:// URL.
func hostOf(u string) string {
	s := u[strings.Index(u, "://")+3:]
	if at := strings.LastIndex(s, "@"); at >= 0 {
		s = s[at+1:]
	}
	if slash := strings.Index(s, "/"); slash >= 0 {
		s = s[:slash]
	}
	if !strings.Contains(s, ":") {
		s += ":5432"
	}
	return s
}
