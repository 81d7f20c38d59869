//! The tables, as diesel sees them. The same definitions serve SQLite and PostgreSQL (migrations/
//! holds one folder per backend with the same version names).

diesel::table! {
    expert_profiles (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        timezone -> Text,
        integration_type -> Text,
        slot_duration_minutes -> Integer,
        slot_interval_minutes -> Integer,
        buffer_before_minutes -> Integer,
        buffer_after_minutes -> Integer,
        minimum_notice_minutes -> Integer,
        booking_horizon_days -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
        video -> Text,
        video_url -> Nullable<Text>,
        ics_feed_secret_hash -> Nullable<Text>,
        max_bookings_per_day -> Nullable<Integer>,
        max_bookings_per_week -> Nullable<Integer>,
        max_bookings_per_month -> Nullable<Integer>,
        max_booked_minutes_per_day -> Nullable<Integer>,
        max_series_occurrences -> Integer,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        timezone -> Text,
        created_at -> BigInt,
        email_key -> Nullable<Text>,
    }
}

diesel::table! {
    expert_schedules (id) {
        id -> Text,
        expert_id -> Text,
        name -> Text,
        timezone -> Text,
        rules -> Text,
        overrides -> Text,
        is_default -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    calendar_change_cursors (expert_id, integration_type) {
        expert_id -> Text,
        integration_type -> Text,
        connection -> BigInt,
        cursor -> Text,
        read_at -> BigInt,
    }
}

diesel::table! {
    push_channels (id) {
        id -> Text,
        expert_id -> Text,
        integration_type -> Text,
        connection -> BigInt,
        token_hash -> Text,
        resource_id -> Text,
        expires_at -> BigInt,
        created_at -> BigInt,
        last_notification_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    push_leases (expert_id, integration_type) {
        expert_id -> Text,
        integration_type -> Text,
        lease_until -> BigInt,
    }
}

diesel::table! {
    schedule_periods (expert_id, from_date) {
        expert_id -> Text,
        schedule_id -> Text,
        from_date -> Text,
        to_date -> Text,
    }
}

diesel::table! {
    appointments (id) {
        id -> Text,
        expert_id -> Text,
        client_id -> Text,
        start_time -> BigInt,
        end_time -> BigInt,
        status -> Text,
        calendar_type -> Nullable<Text>,
        external_calendar_event_id -> Nullable<Text>,
        sync_status -> Text,
        cancellation_reason -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        sync_error -> Nullable<Text>,
        scheduling_url -> Nullable<Text>,
        meeting_url -> Nullable<Text>,
        meeting_error -> Nullable<Text>,
        sequence -> Integer,
        series_id -> Nullable<Text>,
        cancelled_by -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (token_hash) {
        token_hash -> Text,
        id -> Text,
        role -> Text,
        subject_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    idempotency_keys (scope, idempotency_key) {
        scope -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status_code -> Integer,
        response_body -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    sessions (session_hash) {
        session_hash -> Text,
        role -> Text,
        subject_id -> Nullable<Text>,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        token_id -> Nullable<Text>,
    }
}

diesel::table! {
    expert_calendar_versions (expert_id) {
        expert_id -> Text,
        version -> BigInt,
        connection -> BigInt,
    }
}

diesel::joinable!(appointments -> expert_profiles (expert_id));
diesel::joinable!(appointments -> clients (client_id));
diesel::joinable!(expert_schedules -> expert_profiles (expert_id));
diesel::joinable!(schedule_periods -> expert_schedules (schedule_id));

diesel::allow_tables_to_appear_in_same_query!(
    expert_profiles,
    clients,
    expert_schedules,
    schedule_periods,
    appointments,
    api_tokens,
    idempotency_keys,
    sessions,
    expert_integrations,
    oauth_states,
    sync_jobs,
    webhook_endpoints,
    webhook_deliveries,
    holds,
    series,
);

diesel::table! {
    series (id) {
        id -> Text,
        expert_id -> Text,
        client_id -> Text,
        recurrence -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    holds (id) {
        id -> Text,
        expert_id -> Text,
        client_id -> Text,
        start_time -> BigInt,
        end_time -> BigInt,
        expires_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    expert_integrations (expert_id, integration_type) {
        expert_id -> Text,
        integration_type -> Text,
        status -> Text,
        account -> Nullable<Text>,
        settings -> Text,
        connected_at -> BigInt,
        last_synced_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<BigInt>,
        credentials -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_states (state_hash) {
        state_hash -> Text,
        expert_id -> Text,
        integration_type -> Text,
        pkce_verifier -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        binding_hash -> Nullable<Text>,
        ticket_hash -> Nullable<Text>,
        ticket_used_at -> Nullable<BigInt>,
        authorization_url -> Nullable<Text>,
    }
}

diesel::table! {
    sync_jobs (appointment_id) {
        appointment_id -> Text,
        expert_id -> Text,
        version -> BigInt,
        due_at -> BigInt,
        attempts -> Integer,
        claimed_until -> Nullable<BigInt>,
        claim_token -> Nullable<Text>,
        first_queued_at -> BigInt,
        last_error -> Nullable<Text>,
        meeting_pending -> Bool,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        url -> Text,
        events -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (seq) {
        seq -> BigInt,
        endpoint_id -> Text,
        event_id -> Text,
        event_type -> Text,
        appointment_id -> Nullable<Text>,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        claim_token -> Nullable<Text>,
        first_queued_at -> BigInt,
        last_error -> Nullable<Text>,
        last_status_code -> Nullable<Integer>,
        last_response -> Nullable<Text>,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
