/* protocols.c - which protocol serves which service. */
#include "lib/common.h"

#include "server/protocols.h"
#include "imap/imapd.h"
#include "pop3/pop3d.h"
#include "smtp/smtpd.h"

const struct protocol *
protocol_for(enum service svc)
{
	switch (svc) {
	case SVC_SMTP:
	case SVC_SUBMISSION:
	case SVC_SMTPS:
		return &proto_smtp;
	case SVC_IMAP:
	case SVC_IMAPS:
		return &proto_imap;
	case SVC_POP3:
	case SVC_POP3S:
		return &proto_pop3;
	case SVC_HTTP:
	case SVC_HTTPS:
	case SVC_COUNT:
		break;
	}
	return &proto_http_unavailable;
}
