package main
import (
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/prometheus/exporter-toolkit/web"
 _ "gopkg.in/yaml.v3"
 _ "github.com/go-kit/log"
 _ "github.com/tjhop/slog-gokit"
 _ "github.com/alecthomas/kingpin/v2"
 _ "go.uber.org/goleak"
)
func main(){}
