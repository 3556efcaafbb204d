package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"qdhcp/dhcpagent"
	"qdhcp/dhcpagent/config"
	"qdhcp/model"
	"qdhcp/rpc"
	"qdhcp/rpc/amqp"
)

// amqpOptions maps neutron.conf onto the transport's options.
func amqpOptions(conf *config.Config, log *slog.Logger) amqp.Options {
	r := conf.Rabbit
	return amqp.Options{
		ControlExchange:           conf.ControlExchange,
		RPCResponseTimeout:        time.Duration(conf.RPCResponseTimeout) * time.Second,
		HeartbeatTimeoutThreshold: r.HeartbeatTimeoutThreshold,
		HeartbeatRate:             r.HeartbeatRate,
		SSL:                       r.SSL,
		SSLCAFile:                 r.SSLCAFile,
		SSLCertFile:               r.SSLCertFile,
		SSLKeyFile:                r.SSLKeyFile,
		AMQPDurableQueues:         r.AMQPDurableQueues,
		AMQPAutoDelete:            r.AMQPAutoDelete,
		RabbitQuorumQueue:         r.RabbitQuorumQueue,
		RabbitHAQueues:            r.RabbitHAQueues,
		RabbitRetryInterval:       r.RabbitRetryInterval,
		RabbitRetryBackoff:        r.RabbitRetryBackoff,
		RabbitIntervalMax:         r.RabbitInterval,
		KombuFailoverStrategy:     r.KombuFailoverStrategy,
		Logger:                    log.With("component", "amqp"),
	}
}

// openRabbit is the neutron-server source: the DHCP plugin API over
// oslo.messaging on RabbitMQ, the dhcp_agent notification queues, and the
// state reports.
func openRabbit(ctx context.Context, conf *config.Config, log *slog.Logger) (*source, error) {
	tr, err := amqp.New(conf.TransportURL, amqpOptions(conf, log))
	if err != nil {
		return nil, fmt.Errorf("transport_url: %w", err)
	}
	plugin := rpc.NewPluginClient(tr, conf.Host, rpc.PluginOptions{})
	var server *agentServerHandle
	s := &source{
		name:   "rabbit",
		plugin: plugin,
		health: func() error {
			if !tr.Connected() {
				return errors.New("not connected to RabbitMQ")
			}
			return nil
		},
		close: func() {
			if server != nil {
				server.stop()
			}
			tr.Close()
		},
	}
	s.start = func(ctx context.Context, notify model.NotificationFunc, agent *dhcpagent.Agent) error {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := tr.WaitConnected(wctx)
		cancel()
		if err != nil {
			if agent == nil {
				return fmt.Errorf("RabbitMQ: %w", err)
			}
			log.Warn("RabbitMQ not reachable yet; the agent keeps trying", "err", err)
		}
		if agent == nil {
			return nil // inspect: calls only
		}
		srv, err := rpc.StartAgentServer(tr, conf.Host, notify, rpc.AgentServerOptions{})
		if err != nil {
			return fmt.Errorf("dhcp_agent server: %w", err)
		}
		server = &agentServerHandle{stop: srv.Stop}
		tr.OnReconnect(func() {
			log.Info("RabbitMQ connection re-established; full resync")
			agent.ScheduleResync("message bus reconnected", "")
		})
		if conf.Agent.ReportInterval > 0 {
			rep := rpc.NewReporter(tr, rpc.ReporterConfig{
				Host:               conf.Host,
				AvailabilityZone:   conf.Agent.AvailabilityZone,
				DHCPDriver:         conf.DHCPDriver,
				DHCPLeaseDuration:  conf.DHCPLeaseDuration,
				LogAgentHeartbeats: conf.Agent.LogAgentHeartbeats,
				ReportInterval:     time.Duration(conf.Agent.ReportInterval * float64(time.Second)),
			}, func() rpc.Counts {
				n, sub, p := agent.Counts()
				return rpc.Counts{Networks: n, Subnets: sub, Ports: p}
			})
			go rep.Run(ctx, func(status string, err error) {
				if err != nil {
					log.Warn("state report failed", "err", err)
					return
				}
				if s.reported != nil {
					s.reported()
				}
				if status == rpc.StatusRevived {
					log.Info("agent revived on the server; full resync")
					agent.ScheduleResync("agent revived", "")
				}
			})
		}
		return nil
	}
	return s, nil
}

// agentServerHandle stops the notification consumer.
type agentServerHandle struct{ stop func() }
