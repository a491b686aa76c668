//! Consultations and complaints (BRIEF Q9, Q11) as every front door files, follows and
//! rates them: the public through the platform channel, staff who handle tickets
//! recording a telephone call or a letter.

use desk::tickets::{self, Filed, NewTicket, Ticket, TicketError};
use governance::identity::Caller;
use policies::access::{Action, Resource};
use storage::ids::{RequestId, UserId};

use crate::{Platform, Refusal};

/// Why a ticket was not filed or rated.
#[derive(Debug, thiserror::Error)]
pub enum TicketFailure {
    /// The ticket's own rules refused it (a field, its state).
    #[error(transparent)]
    Ticket(#[from] TicketError),
    /// The caller may not do this.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl TicketFailure {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            TicketFailure::Ticket(e) => e.zh(),
            TicketFailure::Refused(e) => e.zh(),
        }
    }
}

impl Platform {
    /// Files a consultation or complaint: by anyone through the platform (`caller`
    /// `None`), or recorded by staff who handle tickets (who may name the telephone or
    /// letter channel). Due on the calendar's working days; audited.
    pub async fn file_ticket(
        &self,
        ticket: &NewTicket,
        caller: Option<&Caller>,
        request_id: &RequestId,
    ) -> Result<Filed, TicketFailure> {
        let actor = match caller {
            Some(caller) => {
                self.authorize(caller, Action::HandleTickets, &Resource::Platform)?;
                caller.user_id.clone()
            }
            None => UserId::from("public"),
        };
        let channel = tickets::check(ticket, caller.is_some())?;
        Ok(tickets::file(
            &self.store,
            &self.calendars,
            ticket,
            channel,
            &actor,
            request_id,
        )
        .await?)
    }

    /// The ticket with this number, for whoever holds its token; `None` when the number
    /// and token do not belong together.
    pub async fn follow_ticket(
        &self,
        number: &str,
        token: &str,
    ) -> Result<Option<Ticket>, TicketFailure> {
        Ok(tickets::follow(&self.store, number.trim(), token.trim())
            .await
            .map_err(TicketError::from)?)
    }

    /// The requester rates the answer to their ticket (1 to 5, once, after it is
    /// answered), holding its token; `None` when the number and token do not belong
    /// together.
    pub async fn rate_ticket(
        &self,
        number: &str,
        token: &str,
        rating: i64,
        comment: &str,
        request_id: &RequestId,
    ) -> Result<Option<Ticket>, TicketFailure> {
        let Some(ticket) = self.follow_ticket(number, token).await? else {
            return Ok(None);
        };
        Ok(Some(
            tickets::rate(&self.store, &ticket, rating, comment, request_id).await?,
        ))
    }

    /// Every ticket (staff who handle tickets), optionally only `open` or `answered`
    /// ones, or only the overdue ones.
    pub async fn tickets_ledger(
        &self,
        caller: &Caller,
        status: Option<&str>,
        overdue: bool,
    ) -> Result<Vec<Ticket>, TicketFailure> {
        self.authorize(caller, Action::HandleTickets, &Resource::Platform)?;
        if let Some(s) = status
            && s != "open"
            && s != "answered"
        {
            return Err(Refusal::Invalid {
                field: "status".into(),
                message: storage::said::Said::new(
                    "status is open or answered",
                    "状态是办理中或已答复。",
                ),
            }
            .into());
        }
        Ok(tickets::list(&self.store, status, overdue)
            .await
            .map_err(TicketError::from)?)
    }

    /// Extends open ticket `id` by `days` working days with its reason (a complex case;
    /// 20 working days in all at most).
    pub async fn extend_ticket(
        &self,
        caller: &Caller,
        id: &str,
        days: i64,
        reason: &str,
        request_id: &RequestId,
    ) -> Result<Ticket, TicketFailure> {
        self.authorize(caller, Action::HandleTickets, &Resource::Platform)?;
        Ok(tickets::extend(
            &self.store,
            &self.calendars,
            id,
            days,
            reason,
            &caller.user_id,
            request_id,
        )
        .await?)
    }

    /// Answers ticket `id`; the requester reads it with their token.
    pub async fn answer_ticket(
        &self,
        caller: &Caller,
        id: &str,
        answer: &str,
        request_id: &RequestId,
    ) -> Result<Ticket, TicketFailure> {
        self.authorize(caller, Action::HandleTickets, &Resource::Platform)?;
        Ok(tickets::answer(&self.store, id, answer, &caller.user_id, request_id).await?)
    }
}
