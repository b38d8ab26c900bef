module github.com/zeek-mgmt-agent/zeek-mgmt-agent/zeekagent

go 1.21
