module github.com/zeek-mgmt-agent/bindings/go

go 1.21
